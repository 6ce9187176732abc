"""Random mutations of small valid files, for a bounded time per reader: each reader returns, or raises one
``RnnkitError`` line; never another exception (a traceback for the user). The number of cases is printed."""

from __future__ import annotations

import io
import math
import random
import struct
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rnnkit.data import audio, conll, parallel, tabular, text
from rnnkit.data.ucr import read_ts
from rnnkit.errors import RnnkitError

SECONDS = 1.5  # per reader
TOKENS = [b'"', b":", b",", b"\t", b"\n", b"\r\n", b"@", b"#", b"?", b"nan", b"inf", b"-1e999", b"\xff",
          b"\xef\xbb\xbf", b"\x00", b" ", b"", b"@data", b"@classLabel", b"1-2", b"1.1", b"_",
          b"B-", b"I-", b"O", b"9" * 30]


def _wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(1000 * math.sin(i / 5))) for i in range(400)))
    return buf.getvalue()


SEEDS: dict[str, tuple[bytes, Callable[[Path], Any]]] = {
    "ts": (b"@problemName t\n@univariate false\n@dimensions 2\n@equalLength false\n@classLabel true a b\n@data\n"
           b"1,2,3:4,5,6:a\n7,8:9,10:b\n", read_ts),
    "tsv": (b"1\ta fine film\n0\ta dull plot\n", lambda p: tabular.read_texts(p, "tsv")),
    "csv": (b"label,text\n1,\"a, fine\"\n0,dull\n",
            lambda p: tabular.read_texts(p, "csv", header=True, label_column="label", text_column="text")),
    "label-sentence": (b"1 a fine film\n0 a dull plot\n", lambda p: tabular.read_texts(p, "label-sentence")),
    "conll": (b"-DOCSTART- O\n\nEU B-ORG\nrejects O\nGerman B-MISC\n\nPeter B-PER\nBlackburn I-PER\n",
              conll.read_conll),
    "conllu": (b"# sent_id = 1\n1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n1\tdo\tdo\tAUX\tVBP\t_\t0\troot\t_\t_\n"
               b"2\tn't\tnot\tPART\tRB\t_\t1\tadvmod\t_\t_\n2.1\tx\tx\tX\tX\t_\t_\t_\t_\t_\n\n",
               conll.read_conllu),
    "pairs": (b"ein Haus\ta house\nzwei\ttwo\n", parallel.read_pairs),
    "text": (b"some text\nmore text\n", text.read_text),
    "wav": (_wav(), lambda p: audio.read_wav(p.read_bytes(), name=str(p))),
}


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        at = rng.randint(0, len(b))
        if op < 0.3 and b:
            b[min(at, len(b) - 1)] = rng.randrange(256)
        elif op < 0.6:
            b[at:at] = rng.choice(TOKENS)
        elif op < 0.8 and b:
            del b[at:at + rng.randint(1, 8)]
        else:
            b = b[:at]  # truncated
    return bytes(b)


@pytest.mark.parametrize("kind", list(SEEDS))
def test_mutated_files_give_one_line_errors(tmp_path: Path, kind: str):
    seed, read = SEEDS[kind]
    rng = random.Random(kind)
    path = tmp_path / f"f.{kind}"
    read_ok = cases = 0
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        data = mutate(seed, rng)
        path.write_bytes(data)
        cases += 1
        try:
            read(path)
            read_ok += 1
        except RnnkitError as e:
            assert "\n" not in str(e), (data, str(e))
        except Exception as e:  # noqa: BLE001  (what the test looks for)
            pytest.fail(f"{kind}: {type(e).__name__}: {e} for input {data!r}")
    print(f"{kind}: {cases} mutated files, {read_ok} read, {cases - read_ok} one-line errors")
    assert cases > 10
