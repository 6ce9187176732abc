"""A speech recogniser's views: the alignment of one test utterance (the figure training drew: frames,
symbol posteriors, emitted symbols), word and character error rates per speaker, outputs beside references."""

from __future__ import annotations

import csv
import json

from rnnkit.diagnostics.report.html import Section, png_file, table
from rnnkit.diagnostics.report.run import RunInfo

SHOWN = 10


def asr_sections(info: RunInfo, notes: list[str]) -> list[Section]:
    """The views of an ``asr`` run, from ``alignment.png``, ``test.json`` and ``test.tsv``."""
    out = []
    img = png_file(info.path / "alignment.png", "alignment")
    if img is None:
        notes.append("alignment.png is missing (drawn after training's test): no alignment plot")
    else:
        out.append(Section("speech", "Alignment of a test utterance", "<p>The CTC posteriors of one test utterance "
                           "over its frames, and where each symbol was emitted.</p>" + img))
    res = info.path / "test.json"
    if res.is_file():
        test = json.loads(res.read_text(encoding="utf-8"))
        rows = [("all", test.get("wer", ""), test.get("cer", ""))]
        rows += [(k, v.get("wer", ""), v.get("cer", "")) for k, v in (test.get("speakers") or {}).items()]
        out.append(Section("errors", "Error rates", table(["speaker", "WER", "CER"], rows)))
    else:
        notes.append("test.json is missing: no error rates")
    tsv = info.path / "test.tsv"
    if tsv.is_file():
        with tsv.open(encoding="utf-8", newline="") as f:
            got = list(csv.DictReader(f, delimiter="\t"))[:SHOWN]
        out.append(Section("outputs", "Outputs beside references", table(
            ["speaker", "reference", "beam", "greedy"],
            [(r.get("speaker", ""), r.get("reference", ""), r.get("beam", ""), r.get("greedy", "")) for r in got])))
    return out
