"""Parallel text for translation: reading sentence pairs, and word or subword (BPE) tokenisers.

Two layouts, both UTF-8, optionally gzip-compressed (``.gz``):

- a pairs file: ``source<TAB>target`` per line (further columns, e.g. Tatoeba's attribution, are ignored);
- two parallel files: line ``i`` of the source file translates line ``i`` of the target file.

Bad input stops with one line naming the file and line: a missing tab, an empty side, parallel
files of different lengths. Tokenisers (the ``tokenizers`` library, ``pip install "rnnkit[translate]"``)
are trained on the training side only and saved with the checkpoint as JSON:

- ``word``: whitespace-separated words; words seen fewer than ``min_freq`` times become ``<unk>``;
- ``bpe``: byte-pair-encoding subwords (Sennrich et al. 2016) up to ``vocab_size`` pieces; spaces are
  kept as a marker (Metaspace), so decoding restores the text exactly; a word never seen is spelled in
  smaller pieces (only characters never seen become ``<unk>``).

Ids 0-3 are the specials ``<pad> <unk> <bos> <eos>`` in every tokeniser.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from rnnkit.errors import RnnkitError, not_a_file

SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = range(4)
KINDS = ("word", "bpe")


def read_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file (``.gz``: gzip), without line ends."""
    p = Path(path)
    if not p.is_file():
        raise not_a_file(p)
    try:
        raw = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
    except (OSError, EOFError) as e:
        raise RnnkitError(f"{p}: not a readable gzip file ({e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise RnnkitError(f"{p}:{line}: not UTF-8 (byte {raw[e.start]:#x}); convert the file to UTF-8") from None
    return text.removeprefix("\ufeff").splitlines()  # a BOM is not part of the first sentence


def read_pairs(path: str | Path, limit: int = 0) -> tuple[list[str], list[str]]:
    """``(sources, targets)`` from a ``source<TAB>target`` file (the first ``limit`` pairs; 0: all)."""
    src, tgt = [], []
    for i, line in enumerate(read_lines(path), 1):
        if limit and len(src) >= limit:
            break
        cols = line.split("\t")
        if len(cols) < 2:
            what = "an empty line" if not line.strip() else "no tab"
            raise RnnkitError(f"{path}:{i}: expected 'source<TAB>target', found {what}")
        for col, name in ((0, "source"), (1, "target")):
            if not cols[col].strip():
                column = 1 if col == 0 else len(cols[0]) + 2
                raise RnnkitError(f"{path}:{i}:{column}: the {name} sentence is empty")
        src.append(cols[0].strip())
        tgt.append(cols[1].strip())
    if not src:
        raise RnnkitError(f"{path}: no sentence pairs")
    return src, tgt


def read_parallel(source: str | Path, target: str | Path, limit: int = 0) -> tuple[list[str], list[str]]:
    """``(sources, targets)`` from two line-aligned files (the first ``limit`` pairs; 0: all)."""
    src, tgt = read_lines(source), read_lines(target)
    if len(src) != len(tgt):
        raise RnnkitError(f"parallel files differ in length: {source} has {len(src):,} lines, {target} has "
                          f"{len(tgt):,}; line i of one must translate line i of the other")
    if limit:
        src, tgt = src[:limit], tgt[:limit]
    for path, lines in ((source, src), (target, tgt)):
        for i, line in enumerate(lines, 1):
            if not line.strip():
                raise RnnkitError(f"{path}:{i}: empty line (every line must hold a sentence)")
    if not src:
        raise RnnkitError(f"{source}: no sentences")
    return [s.strip() for s in src], [t.strip() for t in tgt]


def _tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError:
        raise RnnkitError('translation needs the tokenizers library: pip install "rnnkit[translate]"') from None
    return tokenizers


class Codec:
    """Text <-> ids for one side of the data (see the module docstring)."""

    def __init__(self, tokenizer: Any, kind: str) -> None:
        self.tok, self.kind = tokenizer, kind

    @classmethod
    def train(cls, lines: list[str], kind: str = "word", vocab_size: int = 8000, min_freq: int = 1) -> Codec:
        """A tokeniser learnt from ``lines`` (the training side)."""
        tk = _tokenizers()
        from tokenizers import decoders, models, pre_tokenizers, trainers

        if kind == "word":
            tok = tk.Tokenizer(models.WordLevel(unk_token=SPECIALS[UNK]))
            tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
            trainer = trainers.WordLevelTrainer(min_frequency=min_freq, special_tokens=list(SPECIALS),
                                                show_progress=False)
        elif kind == "bpe":
            tok = tk.Tokenizer(models.BPE(unk_token=SPECIALS[UNK]))
            tok.pre_tokenizer = pre_tokenizers.Metaspace()
            tok.decoder = decoders.Metaspace()
            trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_freq,
                                          special_tokens=list(SPECIALS), show_progress=False)
        else:
            raise RnnkitError(f"unknown tokenizer {kind!r}: expected one of {', '.join(KINDS)}")
        tok.train_from_iterator(lines, trainer=trainer)
        if [tok.token_to_id(s) for s in SPECIALS] != list(range(4)):
            raise RuntimeError("the tokenizer did not give the special tokens ids 0-3")
        return cls(tok, kind)

    def __len__(self) -> int:
        return self.tok.get_vocab_size()

    def encode_batch(self, lines: list[str]) -> list[list[int]]:
        """Ids of every line (no ``<bos>``/``<eos>``)."""
        return [e.ids for e in self.tok.encode_batch(lines, add_special_tokens=False)]

    def pieces(self, line: str) -> list[str]:
        """The tokens of ``line`` as text (words or subword pieces), for display."""
        return self.tok.encode(line, add_special_tokens=False).tokens

    def decode(self, ids: list[int]) -> str:
        """Detokenised text of ``ids`` (specials dropped)."""
        return self.tok.decode([i for i in ids if i >= len(SPECIALS)], skip_special_tokens=True)

    def id_to_piece(self, i: int) -> str:
        return self.tok.id_to_token(i)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "json": self.tok.to_str()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Codec:
        tk = _tokenizers()
        return cls(tk.Tokenizer.from_str(d["json"]), d["kind"])
