"""A classifier's views: confusion matrix, per-class precision and recall, the most confident errors with
their inputs, attention-pooling weights over the tokens of a few examples, gradient flow."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import torch
import torch.nn.functional as F

from rnnkit.diagnostics.report.flow import flow_section
from rnnkit.diagnostics.report.html import Section, esc, table
from rnnkit.diagnostics.report.run import RunInfo
from rnnkit.diagnostics.report.textcolor import coloured, scale

MAX_EXAMPLES = 2000  # scored for the confusion matrix and the errors: bounded, so the report stays quick
ERRORS, ATTENDED, FLOW_BATCH = 8, 4, 32


def evaluation_split(loaded: Any) -> tuple[Any, list[list[str]] | None, str]:
    """``(Encoded, token lists or None, what)``: the test file, else the validation file, else the validation
    examples held out of ``--data`` exactly as training held them out (:func:`rnnkit.tasks.classify.prepare`)."""
    from rnnkit.tasks import classify
    from rnnkit.tasks import classify_data as cd

    data = loaded.data
    path = data.test or data.valid
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        if path:
            split = cd.read_split(path, data, loaded.audio)
            items = split.items[:MAX_EXAMPLES]
            inputs = [cd.encode_tokens(t, loaded.vocab) for t in items] if loaded.vocab is not None else list(items)
            labels = (split.labels or [])[:MAX_EXAMPLES]
            known = [i for i, lab in enumerate(labels) if lab in loaded.classes]
            y = torch.tensor([loaded.classes.index(labels[i]) for i in known], dtype=torch.long)
            enc = classify.Encoded([inputs[i] for i in known], y, [split.where[i] for i in known])
            toks = [items[i] for i in known] if loaded.vocab is not None else None
            return enc, toks, f"{'test' if data.test else 'validation'} file {path}"
        prep = classify.prepare(data, loaded.audio, lambda *a: None)
    enc = prep.valid
    enc = classify.Encoded(enc.inputs[:MAX_EXAMPLES], enc.y[:MAX_EXAMPLES], enc.where[:MAX_EXAMPLES])
    toks = [[prep.vocab.itos[i] for i in x.tolist()] for x in enc.inputs] if prep.vocab is not None else None
    return enc, toks, f"the validation examples held out of {data.data}"


def confusion_html(cm: torch.Tensor, classes: list[str]) -> str:
    """The matrix as a table shaded by each row's share (rows: true class, columns: predicted)."""
    rows = []
    for i, name in enumerate(classes):
        total = max(1, int(cm[i].sum()))
        cells = []
        for j in range(len(classes)):
            v = int(cm[i, j])
            k = min(10, round(v / total * 10))
            cls = f' class="{"p" if i == j else "s"}{k}"' if k else ""
            cells.append(f'<td{cls} style="text-align:right">{v}</td>')
        rows.append(f"<tr><th>{esc(name)}</th>{''.join(cells)}</tr>")
    head = "".join(f"<th>{esc(c)}</th>" for c in classes)
    return f'<table class="confusion"><thead><tr><th>true \\ predicted</th>{head}</tr></thead>{"".join(rows)}</table>'


def per_class(cm: torch.Tensor, classes: list[str]) -> str:
    """Precision, recall and F1 of every class, with its support."""
    cm = cm.double()
    tp = cm.diag()
    prec = tp / cm.sum(0).clamp(min=1)
    rec = tp / cm.sum(1).clamp(min=1)
    f1 = 2 * prec * rec / (prec + rec).clamp(min=1e-12)
    return table(["class", "precision", "recall", "F1", "support"],
                 [(c, round(float(prec[i]), 3), round(float(rec[i]), 3), round(float(f1[i]), 3), int(cm[i].sum()))
                  for i, c in enumerate(classes)])


def classify_sections(info: RunInfo, notes: list[str]) -> list[Section]:
    """All views of a ``classify`` run."""
    from rnnkit.tasks import classify

    loaded = classify.load_run(info.path)
    model, classes = loaded.model.float(), loaded.classes
    try:
        enc, toks, what = evaluation_split(loaded)
    except Exception as e:  # noqa: BLE001  (data moved away: the saved test confusion matrix is all there is)
        notes.append(f"the evaluation data can't be read ({type(e).__name__}: {e}): errors and attention left out")
        saved = info.path / "confusion.json"
        if saved.is_file():
            import json

            d = json.loads(saved.read_text(encoding="utf-8"))
            cm = torch.tensor(d["matrix"])
            return [Section("confusion", "Confusion matrix (test, as saved)",
                            confusion_html(cm, d["labels"]) + per_class(cm, d["labels"]))]
        return []
    if not enc.inputs:
        notes.append(f"{what} holds no example of the run's classes")
        return []
    probs = classify.predict_proba(model, enc.inputs, loaded.data.eval_batch_size)
    pred = probs.argmax(1)
    from rnnkit.metrics.classification import confusion_matrix

    cm = confusion_matrix(enc.y, pred, len(classes))
    acc = float((pred == enc.y).double().mean())
    out = [Section("confusion", "Confusion matrix and per-class scores",
                   f"<p>{len(enc.inputs):,} examples of {esc(what)} (accuracy {acc:.2%}); rows are the true class."
                   f"</p>" + confusion_html(cm, classes) + per_class(cm, classes))]
    wrong = (pred != enc.y).nonzero().flatten().tolist()
    wrong.sort(key=lambda i: -float(probs[i, pred[i]]))
    rows = []
    for i in wrong[:ERRORS]:
        shown = " ".join(toks[i]) if toks is not None else enc.where[i]
        rows.append((esc(shown[:300]), esc(classes[int(enc.y[i])]), esc(classes[int(pred[i])]),
                     f"{float(probs[i, pred[i]]):.3f}"))
    out.append(Section("errors", "Most confident errors",
                       table(["input" if toks is not None else "example", "true", "predicted", "p(predicted)"], rows,
                             raw=True) if rows else "<p>no errors on these examples.</p>"))
    pool = getattr(model, "pool", None)
    if getattr(pool, "mode", None) == "attention":
        if toks is None:
            notes.append("attention-pooling weights are shown for text inputs only")
        else:
            parts = []
            for i in range(min(ATTENDED, len(enc.inputs))):
                x = enc.inputs[i]
                with torch.no_grad():
                    model(x.view(1, -1), torch.tensor([x.shape[0]]))
                w = pool.weights[0, : x.shape[0]].float()
                parts.append(f"<p>true {esc(classes[int(enc.y[i])])}, predicted {esc(classes[int(pred[i])])}:</p>"
                             + coloured(toks[i][: x.shape[0]], w.tolist(), False, float(w.max()), " "))
            out.append(Section("attention", "Attention-pooling weights",
                               "<p>The weight the pooling gave each token of a few examples.</p>"
                               + "".join(parts) + scale(False, 1.0, "(relative to each example's largest)")))
    else:
        notes.append(f"the model pools by {getattr(pool, 'mode', '?')}, not attention: no attention weights")
    idx = list(range(min(FLOW_BATCH, len(enc.inputs))))
    x, lengths = classify.batch_inputs([enc.inputs[i] for i in idx])
    y = enc.y[idx]
    out.append(flow_section(model, lambda: F.cross_entropy(model(x, lengths).float(), y),
                            f"cross-entropy of {len(idx)} examples (read after each one's last step)"))
    return out
