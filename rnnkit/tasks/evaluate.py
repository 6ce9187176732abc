"""``rnnkit evaluate RUN --data FILE``: a trained run scored on a file, with the metrics of its task.

- ``lm``: loss, perplexity (bits per character for character models) of a text.
- ``classify``: accuracy, macro-F1, the loss and the confusion matrix of a labelled file.
- ``tag``: entity precision / recall / F1 (seqeval's rules, per type) or token accuracy of a tagged file.
- ``translate``: BLEU and chrF (sacrebleu) of beam search and greedy decoding against the target side of a
  ``source<TAB>target`` file, and the teacher-forced loss.
- ``caption``: exact match (beam and greedy), BLEU and chrF of the captions of an ``IMAGE<TAB>caption`` file.
- ``forecast``: the backtest of the last ``test`` steps of every series of a CSV (the run's span, origins and
  combination, no refitting) beside naive, seasonal naive, drift, ETS and ARIMA: MASE, sMAPE, 80% coverage.
- ``asr``: word and character error rates (beam search and greedy) and the CTC loss of the recordings a
  ``file<TAB>text`` transcript names.
- ``music``: ``--data`` names a corpus (``folk``, ``chorales``, a folder): its test split (the run's split) is
  scored beside the n-gram baseline, and generated pieces are checked (:mod:`rnnkit.music.evaluate`).

Each file is read as the run's training data was (its format, columns, tag scheme), by the task's
own reader, and scored by the task's own metrics: the numbers agree with the ones training logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnkit.errors import RnnkitError
from rnnkit.tasks import runs

SUPPORTED = ("lm", "classify", "tag", "translate", "caption", "forecast", "asr", "music")


def evaluate_run(run: str | Path, data: str, batch_size: int | None = None, bptt: int | None = None,
                 device: str = "cpu", split: str | None = None,
                 sampling: dict[str, Any] | None = None) -> dict[str, Any]:
    """The scores of ``run`` (a run directory or a checkpoint file) on ``data``, with ``"task"`` naming its task.
    ``batch_size`` None: 16 streams for a language model, the run's ``--eval-batch-size`` otherwise.
    ``split`` (``test`` or ``valid``) and ``sampling`` (temperature, top_p, top_k): music runs only."""
    if batch_size is not None and batch_size < 1:
        raise RnnkitError(f"--batch-size must be >= 1, got {batch_size}")
    # the checkpoint is chosen once (with the corrupt best.pt -> last.pt fallback and its warning);
    # the task's loader then reads that file
    path, ckpt = runs.load_checkpoint(run)
    task = ckpt.get("task")
    if task not in SUPPORTED:
        raise RnnkitError(f"rnnkit evaluate does not score {task!r} runs yet ({path}); it scores "
                          f"{', '.join(SUPPORTED[:-1])} and {SUPPORTED[-1]} runs")
    if bptt is not None and task != "lm":
        raise RnnkitError(f"--bptt is for language-model runs; {path} is a {task} run")
    if task != "music":
        for flag, given in (("--split", split is not None), ("--temperature/--top-p/--top-k", bool(sampling))):
            if given:
                raise RnnkitError(f"{flag} is for music runs; {path} is a {task} run")
    if task == "lm":
        from rnnkit.tasks import lm

        res = lm.evaluate_file(path, data, batch_size or 16, bptt, device)
    elif task == "classify":
        from rnnkit.tasks import classify

        res = classify.evaluate_file(path, data, batch_size, device)
    elif task == "translate":
        from rnnkit.tasks import translate

        res = translate.evaluate_file(path, data, batch_size, device)
    elif task == "caption":
        from rnnkit.tasks import caption

        res = caption.evaluate_file(path, data, batch_size, device)
    elif task == "forecast":
        from rnnkit.tasks import forecast

        res = forecast.evaluate_file(path, data, device)
    elif task == "music":
        from rnnkit.tasks import music

        res = music.evaluate_file(path, data, batch_size, device, split or "test", sampling)
    elif task == "asr":
        from rnnkit.tasks import asr

        res = asr.evaluate_file(path, data, None, batch_size, device)
    else:
        from rnnkit.tasks import tag

        res = tag.evaluate(path, data, device, batch_size)
    return {"task": task, **res}


def summary(res: dict[str, Any]) -> str:
    """The result as the lines ``rnnkit evaluate`` prints without ``--json``."""
    where = f"({res['checkpoint']})"
    if res["task"] == "lm":
        extra = f" | bpc {res['bpc']:.4f}" if "bpc" in res else ""
        return f"{res['data']}: {res['tokens']:,} tokens | loss {res['loss']:.4f} | ppl {res['ppl']:.2f}{extra} {where}"
    if res["task"] == "classify":
        # accuracy-like scores as percentages with two decimals, as training prints them (metrics.display)
        head = (f"{res['data']}: {res['sequences']:,} sequences | acc {100 * res['acc']:.2f} | macro-F1 "
                f"{100 * res['macro_f1']:.2f} | loss {res['loss']:.4f} {where}")
        labels, matrix = res["confusion"]["labels"], res["confusion"]["matrix"]
        width = max(len(str(v)) for v in [*labels, *(x for row in matrix for x in row)])
        rows = ["confusion (rows: true, columns: predicted):",
                " ".join([" " * width, *(f"{c:>{width}}" for c in labels)])]
        rows += [" ".join([f"{c:>{width}}", *(f"{x:>{width}}" for x in row)]) for c, row in zip(labels, matrix)]
        return "\n".join([head, *rows])
    if res["task"] == "translate":
        return (f"{res['data']}: {res['sentences']:,} sentences | BLEU {res['bleu']:.2f} | chrF {res['chrf']:.2f} "
                f"(greedy: {res['bleu_greedy']:.2f} / {res['chrf_greedy']:.2f}) | loss {res['loss']:.4f} {where}")
    if res["task"] == "caption":
        return (f"{res['data']}: {res['images']:,} images | exact {100 * res['exact']:.2f} (greedy "
                f"{100 * res['exact_greedy']:.2f}) | BLEU {res['bleu']:.2f} | chrF {res['chrf']:.2f} {where}")
    if res["task"] == "forecast":
        from rnnkit.forecasting.backtest import table

        o = res["overall"]
        head = (f"{res['data']}: {res['series']} series, the last {res['test']} steps, {res['horizon']}-step "
                f"forecasts from origins {res['stride']} step(s) apart | {res['headline']} MASE "
                f"{o[res['headline']]['mase']:.3f} | 80% coverage {o[res['headline']]['coverage80']:.3f} {where}")
        return "\n".join([head, "MASE: scaled by each series' in-sample seasonal naive error; sMAPE, MAE, RMSE, "
                                 "CRPS: on the data's own scale", table(o)])
    if res["task"] == "asr":
        return (f"{res['data']}: {res['recordings']:,} recordings | WER {100 * res['wer']:.2f} | CER "
                f"{100 * res['cer']:.2f} (beam {res['beam_size']}; greedy: {100 * res['wer_greedy']:.2f} / "
                f"{100 * res['cer_greedy']:.2f}) | loss {res['loss']:.4f} {where}")
    if res["task"] == "music":
        from rnnkit.music.evaluate import summary_lines

        return "\n".join([f"{res['data']}: {where}", *summary_lines(res)])
    if "f1" in res:
        scores = f"F1 {res['f1']:.2f} | precision {res['precision']:.2f} | recall {res['recall']:.2f} | "
    else:
        scores = ""
    return f"{res['data']}: {scores}token acc {res['acc']:.2f} | loss {res['loss']:.4f} {where}"
