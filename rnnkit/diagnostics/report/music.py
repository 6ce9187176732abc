"""A music run's views: the evaluation beside the n-gram (``evaluation.json``) and one piece composed now
from the run's best checkpoint (its piano roll, and its ABC for folk tunes)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from rnnkit.diagnostics.report.html import Section, esc, png_file, table
from rnnkit.diagnostics.report.run import RunInfo

#: the columns of the generated pieces' checks, in the order shown
CHECKS = ("parsed_bars_full", "ends_on_tonic", "pitch_class_kl", "pitch_class_emd", "interval_kl", "interval_emd")


def music_sections(info: RunInfo, notes: list[str]) -> list[Section]:
    out = []
    res = info.path / "evaluation.json"
    if res.is_file():
        ev = json.loads(res.read_text(encoding="utf-8"))
        ngram = ev.get("ngram", {})
        nll = [("network", ev.get("rnn", {}).get("nll", "")),
               (f"best n-gram (order {ngram.get('best_order', '?')})", ngram.get("nll", ""))]
        rows = []
        for name, key in (("network", "rnn"), ("network, constrained", "rnn_constrained"), ("n-gram", "ngram"),
                          ("test set", "test_set")):
            got = ev.get(key, {})
            got = got.get("samples", got)
            if got:
                rows.append((name, *(got.get(c, "") for c in CHECKS)))
        out.append(Section("music-eval", "Evaluation beside the n-gram", "<p>Test negative log-likelihood per token "
                           "(nats):</p>" + table(["model", "NLL"], nll) + "<p>Generated pieces (and the test set "
                           "itself): the share that parse with every bar full, that end on the tonic, and the "
                           "distances of their pitch-class and interval histograms to the test set's.</p>"
                           + table(["pieces", *CHECKS], rows)))
    else:
        notes.append("evaluation.json is missing (written after training): no evaluation beside the n-gram")
    out.append(_composed(info))
    return out


def _composed(info: RunInfo) -> Section:
    """One piece in the run's first trained condition, seed 0, written to a temporary directory."""
    from rnnkit.models.sampling import SampleConfig
    from rnnkit.tasks import music

    vocab = info.ckpt["vocab"] if info.ckpt else {}
    metre = (vocab.get("metres") or ["4/4"])[0]
    key = f"{(vocab.get('tonics') or ['C'])[0]} {(vocab.get('modes') or ['major'])[0]}"
    with tempfile.TemporaryDirectory() as d:
        got = music.compose(info.path, key, metre, 8, Path(d) / "piece", SampleConfig(), seed=0)
        img = png_file(Path(got["files"]["png"]), "piano roll of a composed piece")
        abc = Path(got["files"]["abc"]).read_text(encoding="utf-8") if "abc" in got["files"] else ""
    body = (f"<p>Composed now by the best checkpoint: {esc(got['key'])}, {esc(got['metre'])}, {got['bars']} bars, "
            f"seed 0 (<code>rnnkit compose {esc(info.path)} --key \"{esc(got['key'])}\" --metre {esc(got['metre'])} "
            f"--bars 8 --seed 0</code> writes it with its MIDI and WAV).</p>" + (img or ""))
    if abc:
        body += f"<pre>{esc(abc)}</pre>"
    return Section("music-piece", "A composed piece", body)
