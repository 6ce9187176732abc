"""A tagger's views: precision, recall and F1 per entity type, a few sentences with the gold and the
predicted spans side by side, gradient flow through time."""

from __future__ import annotations

from typing import Any

from rnnkit.diagnostics.report.flow import flow_section
from rnnkit.diagnostics.report.html import Section, esc, note, table
from rnnkit.diagnostics.report.run import RunInfo
from rnnkit.diagnostics.report.svg import PALETTE

MAX_SENTENCES, SHOWN, FLOW_BATCH = 1000, 6, 16


def _sentences(data: Any, scheme: str) -> tuple[list[Any], str]:
    """The test file's sentences, else the validation file's, else the share training held out of --data."""
    from rnnkit.tasks import tag

    if data.test or data.valid:
        path = data.test or data.valid
        return tag.read_tagged(path, data, scheme)[0], f"{'test' if data.test else 'validation'} file {path}"
    sents, _ = tag.read_tagged(data.data, data, None)
    return tag.hold_out(sents, data.valid_fraction, data.split_seed, data.data)[1], \
        f"the validation sentences held out of {data.data}"


def spans_html(tokens: list[str], spans: list[dict[str, Any]], colors: dict[str, str]) -> str:
    """The sentence with each span underlined and labelled in its type's colour."""
    starts = {s["start"]: s for s in spans}
    out, i = [], 0
    while i < len(tokens):
        s = starts.get(i)
        if s is None:
            out.append(esc(tokens[i]))
            i += 1
            continue
        c = colors.setdefault(s["type"], PALETTE[len(colors) % len(PALETTE)])
        out.append(f'<span style="border-bottom:3px solid {c};background:{c}22">{esc(" ".join(tokens[i:s["end"]]))}'
                   f'<sub style="color:{c}">{esc(s["type"])}</sub></span>')
        i = max(s["end"], i + 1)
    return " ".join(out)


def tag_sections(info: RunInfo, notes: list[str]) -> list[Section]:
    """All views of a ``tag`` run."""
    from rnnkit import config as cfgmod
    from rnnkit.metrics.tagging import entity_scores, token_accuracy
    from rnnkit.tasks import tag

    model, enc, conf, _ = tag.load_run(info.path)
    model.float()
    data = cfgmod.build(tag.TagDataConfig, conf["data"], "data config", internal=True)
    sents, what = _sentences(data, enc.scheme)
    sents = sents[:MAX_SENTENCES]
    encoded = tag.Encoded(enc, [s.tokens for s in sents], [s.tags for s in sents])
    preds, _, _ = tag.tag_ids(model, encoded, data.eval_batch_size)
    gold = [s.tags for s in sents]
    pred = [[enc.tags[j] for j in p] for p in preds]
    out = []
    if enc.scheme == "none":
        acc = token_accuracy(gold, pred)
        out.append(Section("entities", "Scores per tag", f"<p>{len(sents):,} sentences of {esc(what)}: token "
                           f"accuracy {acc:.2f}%. Plain tags have no spans, so no per-entity scores.</p>"))
    else:
        ent = entity_scores(gold, pred, enc.scheme)
        rows = [(t, round(v["precision"], 1), round(v["recall"], 1), round(v["f1"], 1), int(v["support"]))
                for t, v in sorted(ent["per_type"].items())]
        rows.append(("all", round(ent["precision"], 1), round(ent["recall"], 1), round(ent["f1"], 1),
                     sum(r[4] for r in rows)))
        out.append(Section("entities", "Scores per entity type", f"<p>{len(sents):,} sentences of {esc(what)} "
                           f"(entity-level, %).</p>" + table(["type", "precision", "recall", "F1", "support"], rows)))
        colors: dict[str, str] = {}
        order = sorted(range(len(sents)), key=lambda i: (gold[i] == pred[i], i))  # mistakes first
        shown = [i for i in order if any(t != "O" for t in gold[i] + pred[i])][:SHOWN]
        body = []
        for i in shown:
            toks = sents[i].tokens
            body.append(f"<tr><td>{spans_html(toks, tag.spans(toks, gold[i], enc.scheme), colors)}</td>"
                        f"<td>{spans_html(toks, tag.spans(toks, pred[i], enc.scheme), colors)}</td>"
                        f"<td>{'same' if gold[i] == pred[i] else 'differs'}</td></tr>")
        out.append(Section("spans", "Gold and predicted spans",
                           "<table><thead><tr><th>gold</th><th>predicted</th><th></th></tr></thead><tbody>"
                           + "".join(body) + "</tbody></table>" if body else note("no sentence with an entity")))
    idx = list(range(min(FLOW_BATCH, len(sents))))
    if idx:
        m = tag._unwrap(model)
        batch = encoded.batch(idx)

        def loss() -> Any:
            return m.nll(m.emissions(batch), batch).mean()

        out.append(flow_section(m, loss, f"the tagger's negative log-likelihood of {len(idx)} sentences"))
    return out
