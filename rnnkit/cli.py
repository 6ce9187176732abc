"""The ``rnnkit`` command."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rnnkit.errors import RnnkitError


def _cases(text: str) -> list[tuple[int, int, int, int]]:
    try:
        cases = [tuple(int(v) for v in c.split(",")) for c in text.split(";") if c.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected cases as 'B,T,I,H;B,T,I,H', got {text!r}") from None
    if not cases or any(len(c) != 4 or min(c) < 1 for c in cases):
        raise argparse.ArgumentTypeError(f"expected cases as 'B,T,I,H;B,T,I,H' with positive sizes, got {text!r}")
    return cases  # type: ignore[return-value]


class _Parser(argparse.ArgumentParser):
    """argparse, with options anywhere among a command's positional arguments (``translate RUN --beam-size
    10 "text"``: plain argparse takes the texts' ``*`` before the option and then rejects the text), and an
    unknown option reported with the usage of the (sub)command it was given to, not the top level's."""

    _inner = False  # set while parse_known_intermixed_args calls back into parse_known_args

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # no abbreviations: `--data` on a task without it would silently be read as `--data-seed`
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        if self._inner or any(a.nargs in (argparse.PARSER, argparse.REMAINDER) for a in self._get_positional_actions()):
            return super().parse_known_args(args, namespace)  # a command with subcommands: they parse the rest
        self._inner = True
        try:
            ns, extras = super().parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False
        if extras:  # nothing after a leaf command could take them; name the flags, the cause, when there are any
            self.error(f"unrecognized arguments: {' '.join([a for a in extras if a.startswith('-')] or extras)}")
        return ns, extras


def _wanted(argv: Sequence[str] | None) -> Callable[..., bool]:
    """Which (sub)commands ``argv`` names: the first two words that are not options. Their flags are built, the
    others' only listed: flags that need torch (a task's options, the cells to bench) import it, and
    ``rnnkit --help`` or ``rnnkit train --help`` should answer at once. ``None``: every command's flags."""
    if argv is None:
        return lambda *names: True
    words = [a for a in argv if not a.startswith("-")][:2]
    return lambda *names: list(names) == words[:len(names)]


_REPORT_DEFAULTS: dict[str, Any] = {}  # the defaults of rnnkit report's flags (see _only_adding_flags)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``rnnkit`` parser; with ``argv``, only the command it names gets its flags (see :func:`_wanted`)."""
    from rnnkit import __version__

    want = _wanted(argv)

    p = _Parser(prog="rnnkit", description="Recurrent neural networks on PyTorch.")
    p.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    b = sub.add_parser("bench", help="speed of rnnkit's backends vs torch.nn on this machine",
                       description="Time rnnkit's backends against torch.nn and a plain autograd loop, "
                                   "interleaved in one process; print medians, ratios and GFLOP/s.")
    if want("bench"):
        from rnnkit.bench import CELLS, CONTENDERS

        b.add_argument("--quick", action="store_true", help="one small shape, 3 repeats (seconds)")
        b.add_argument("--cells", default=",".join(CELLS), help="comma list of lstm,gru,rnn (default: all)")
        b.add_argument("--cases", type=_cases, default=None, help="'B,T,I,H;...' (default: the standard grid)")
        b.add_argument("--contenders", default=",".join(CONTENDERS),
                       help=f"comma list from {','.join(CONTENDERS)}")
        b.add_argument("--repeats", type=int, default=None, help="timed rounds per case (default 7, quick 3)")
        b.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
        b.add_argument("--json", default=None, help="also write the results to this JSON file")
        b.add_argument("--variants", action="store_true",
                       help="instead: the cell variants, regularisers and the compiled loop against torch.nn "
                            "(one thread; --cases, --repeats apply)")
        b.add_argument("--no-autograd", action="store_true", help="with --variants: leave out the autograd loops")
        b.add_argument("--lengths", action="store_true",
                       help="instead: variable lengths (lengths uniform in [T/2, T]) against the padded batch and "
                            "torch.nn's PackedSequence, both directions (one thread; the first of --cells, --cases, "
                            "--repeats apply)")

    sub.add_parser("build-loops", help="compile the C++ time loop of the LSTM/GRU kernels for this machine now",
                   description="Compile rnnkit's C++ time loop (rnnkit/backends/csrc/loops.cpp) with the system's "
                               "C++ compiler ($CXX, else c++), once per machine and torch version, into "
                               "$RNNKIT_CACHE (default ~/.cache/rnnkit). Without it the loop is compiled on first "
                               "use (announced); RNNKIT_COMPILED=0 keeps the Python loop.")

    from rnnkit.config import add_flags

    t = sub.add_parser("train", help="train a model (a task: lm, adding, copy, seqdigits, tag, classify, translate, "
                                     "caption, forecast, asr, music)",
                       description="Train a model for a task.")
    tsub = t.add_subparsers(dest="task", metavar="TASK")
    tl = tsub.add_parser("lm", help="language model on a text file (character or word level)",
                         description="Train a language model. With truncated BPTT (--bptt K, the default) "
                                     "the text is cut into --batch-size streams, read in chunks of K steps "
                                     "with the hidden state carried between chunks; with --bptt 0 every line "
                                     "is a sequence of its own, trained with full BPTT. Writes config.json, "
                                     "metrics.jsonl, curves.png, last.pt and best.pt to the run directory. "
                                     "Recipe data paths are relative to the recipe file.")
    if want("train", "lm"):
        from rnnkit.tasks import lm

        lm.add_train_flags(tl)

    helps = {"adding": ("the adding problem (Hochreiter & Schmidhuber 1997): long-range memory, regression",
                        "Train on the adding problem at lag --lag: two marked values in a sequence of T, their sum "
                        "read after the last step. Answering 1 scores MSE 0.167; solved below 0.01."),
             "copy": ("the copy-memory problem (Arjovsky et al. 2016): remember symbols across --lag blanks",
                      "Train on the copy-memory problem: 10 symbols, --lag blanks, a delimiter, then write the "
                      "symbols back. The memoryless baseline's cross-entropy is 10 log 8 / (T + 20)."),
             "seqdigits": ("scikit-learn's 8x8 digits read pixel by pixel (64 steps), classification",
                           "Train a classifier on the 1,797 images of scikit-learn's load_digits, one pixel per "
                           "step (64 steps), with a seeded stratified train / validation / test split.")}
    for problem, (short, long) in helps.items():
        tp = tsub.add_parser(problem, help=short, description=long + " Writes config.json, metrics.jsonl, "
                             "curves.png, last.pt and best.pt to the run directory; the test set is scored "
                             "with the best model at the end.")
        if want("train", problem):
            from rnnkit.tasks import memory, options

            options.add_train_flags(tp, memory.sections(problem), problem)

    tt = tsub.add_parser("tag", help="sequence tagger (NER, POS): BiLSTM with character features and a CRF",
                         description="Train a tagger on CoNLL column files (CoNLL-2003 NER) or CoNLL-U (UD POS): "
                                     "word embeddings, casing and a character BiLSTM per word, a BiLSTM over the "
                                     "words, a CRF (or softmax) output. Chunk tags are converted to --scheme "
                                     "(BIOES by default); the validation file (without --valid: a seeded share of "
                                     "--data) is scored every epoch (entity F1 or "
                                     "token accuracy), the test file with best.pt at the end. Writes config.json, "
                                     "metrics.jsonl, curves.png, last.pt, best.pt and metrics.json.")
    if want("train", "tag"):
        from rnnkit.tasks import tag

        tag.add_train_flags(tt)

    tc = tsub.add_parser("classify", help="sequence classifier (sentiment, spoken digits, sensor series): many-to-one",
                         description="Train a classifier on labelled sequences: texts (--format tsv, csv or "
                                     "label-sentence), UCR/UEA series (ts) or WAV recordings (wav-dir: a directory or "
                                     "tar archive, labels from names {label}_..._{index}.wav, MFCC or log-mel "
                                     "features). A (bi)directional RNN/LSTM/GRU reads each sequence, its outputs are "
                                     "pooled over time (last, mean, max or attention). Writes config.json, "
                                     "metrics.jsonl, curves.png, last.pt and best.pt; the test set is scored with "
                                     "best.pt at the end (accuracy, macro-F1, confusion.png). Recipe data paths are "
                                     "relative to the recipe file.")
    if want("train", "classify"):
        from rnnkit.tasks import classify, options

        options.add_train_flags(tc, classify.sections(), "classify")

    tr = tsub.add_parser("translate", help="encoder-decoder with attention on sentence pairs (translation)",
                         description="Train a sequence-to-sequence model on sentence pairs: --data pairs.tsv "
                                     "(source<TAB>target) or line-aligned --source and --target files (.gz read "
                                     "too). Word or BPE tokenisers are learnt on the training pairs; validation and "
                                     "test sets come from their own files or are held out. A (bi)directional "
                                     "encoder, an attention decoder (bahdanau, dot, general or none). The test set "
                                     "is translated with best.pt by beam search and greedily: BLEU and chrF "
                                     "(sacrebleu), test.beam.txt, attention.png. Writes config.json, metrics.jsonl, "
                                     "curves.png, last.pt and best.pt. Recipe data paths are relative to the recipe.")
    if want("train", "translate"):
        from rnnkit.tasks import options, translate

        options.add_train_flags(tr, translate.sections(), translate.TASK)

    tcap = tsub.add_parser("caption", help="caption images of 1-4 handwritten digits in words (one-to-many)",
                           description="Train a captioner (a small CNN, an attention decoder) on images composed of "
                                       "1-4 of scikit-learn's handwritten digits, captioned in words ('three one "
                                       "four'); test images use digit images never seen in training. The test set "
                                       "is captioned with best.pt by beam search: exact match, BLEU and chrF. Writes "
                                       "config.json, metrics.jsonl, curves.png, last.pt and best.pt.")
    if want("train", "caption"):
        from rnnkit.tasks import caption, options

        options.add_train_flags(tcap, caption.sections(), caption.TASK)

    tasr = tsub.add_parser("asr", help="speech to text with CTC: connected spoken digits (FSDD) or your WAVs",
                           description="Train a speech recogniser (log-mel frames, stacked, a (bi)directional LSTM or "
                                       "GRU, CTC) on connected digits composed from FSDD's recordings (--data "
                                       "recordings.tar.xz; --protocol recordings or speaker:NAME) or on your WAV files "
                                       "with a file<TAB>text --transcripts file. Validation: greedy WER/CER; test with "
                                       "best.pt: WER/CER of beam search and greedy, per speaker, confusion.md, "
                                       "alignment.png, and for a --no-bidirectional model the streamed result, its "
                                       "real-time factor and latency. Writes config.json, metrics.jsonl, curves.png, "
                                       "last.pt, best.pt, test.tsv and test.json.")
    if want("train", "asr"):
        from rnnkit.tasks import asr, options

        options.add_train_flags(tasr, asr.sections(), asr.TASK)

    tmus = tsub.add_parser("music", help="compose folk tunes or chorales (music21's corpus or your files): one-to-many",
                           description="Train a music model on folk tunes (--corpus folk: O'Neill's and Ryan's "
                                       "collections in ABC; essen: the Essen folk songs), Bach chorales (--corpus "
                                       "chorales, four voices in sixteenth-note frames) or a folder of your .abc, .mid "
                                       "and .musicxml files, all read with music21 (no download). The condition "
                                       "(metre, mode, tonic) sets the recurrent state; pieces are split by a fixed "
                                       "seeded hash, duplicates removed. After training, best.pt is evaluated beside "
                                       "an n-gram baseline: test NLL per token, and over --eval-samples generated "
                                       "pieces the parse and bar-full shares, endings on the tonic, pitch-class and "
                                       "interval histogram distances (evaluation.json). Writes config.json, "
                                       "metrics.jsonl, curves.png, last.pt and best.pt.")
    if want("train", "music"):
        from rnnkit.tasks import music

        music.add_train_flags(tmus)

    tf = tsub.add_parser("forecast", help="time-series forecaster (encoder RNN, Gaussian intervals) vs baselines",
                         description="Train a forecaster on the series of a CSV file (wide columns, long format "
                                     "with --id-column, or a year-by-month table): an RNN reads a context window "
                                     "of the scaled target, past-only covariates and calendar features, and "
                                     "predicts a Gaussian for each of --horizon steps. The last --test steps of "
                                     "every series are held out and backtested from rolling origins with the best "
                                     "model, beside naive, seasonal naive, drift, ETS and ARIMA. Writes "
                                     "config.json, metrics.jsonl, curves.png, last.pt, best.pt, backtest.json, "
                                     "backtest.csv and forecast.png.")
    if want("train", "forecast"):
        from rnnkit.tasks import forecast, options

        options.add_train_flags(tf, forecast.sections(), forecast.TASK)

    fc = sub.add_parser("forecast", help="forecast past the end of a CSV's series with a trained forecast run",
                        description="Forecast --horizon steps (the run's) past the last time stamp of every series "
                                    "in --data, read as the run was trained (columns, frequency, transform); write "
                                    "a CSV (series, time, step, forecast, lo80, hi80).")
    fc.add_argument("run", help="run directory or checkpoint file")
    fc.add_argument("--data", required=True, help="CSV file with the series' history")
    fc.add_argument("--out", default="forecasts.csv", help="CSV to write (default: forecasts.csv)")
    fc.add_argument("--plot", default="", help="also draw history and forecast to this PNG")
    fc.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")

    s = sub.add_parser("sample", help="generate text from a trained language model",
                       description="Generate text from a run (its best.pt, else last.pt), streamed as it "
                                   "is produced.")
    s.add_argument("run", help="run directory or checkpoint file")
    s.add_argument("--prime", default="", help="text to start from (default: a line break)")
    s.add_argument("--length", type=int, default=500, help="tokens to generate (default: 500)")
    s.add_argument("--seed", type=int, default=None, help="seed for reproducible samples")
    s.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    s.add_argument("--threads", type=int, default=1,
                   help="CPU threads for torch; one token at a time is fastest on 1 (default: 1; 0: torch's choice)")
    if want("sample"):
        from rnnkit.models.sampling import SampleConfig

        add_flags(s, SampleConfig, "sampling options")

    cm = sub.add_parser("compose", help="compose a folk tune or a chorale with a trained music run",
                        description="Compose one piece with a music run's best.pt (else last.pt), from one input: "
                                    "the key and metre (the condition that sets the recurrent state). Writes "
                                    "OUT.abc (folk runs), OUT.musicxml, OUT.mid, OUT.wav (rendered by a small "
                                    "additive synthesiser, no system synthesizer needed) and OUT.png (a piano roll).")
    cm.add_argument("run", help="run directory or checkpoint file")
    cm.add_argument("--key", default="C major", help="tonic and mode: 'D major', 'E minor', 'A dorian', 'Gmix' "
                    "(default: C major)")
    cm.add_argument("--metre", default=None, help="time signature, e.g. 6/8 (default: 4/4 if the run knows it)")
    cm.add_argument("--bars", type=int, default=16, help="bars to compose (default: 16)")
    cm.add_argument("--out", default="tune", help="path stem of the files (default: tune -> tune.abc, ...)")
    cm.add_argument("--seed", type=int, default=None, help="seed for a reproducible piece")
    cm.add_argument("--constraint", action=argparse.BooleanOptionalAction, default=True,
                    help="folk: keep every bar full (durations must add up to the metre); chorales: keep the "
                         "voices in order, soprano >= alto >= tenor >= bass (default: on)")
    cm.add_argument("--tempo", type=float, default=120.0, help="quarter notes per minute in the WAV (default: 120)")
    cm.add_argument("--title", default="", help="title written into the files")
    cm.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    cm.add_argument("--json", action="store_true", help="print the result as one JSON object")
    if want("compose"):
        from rnnkit.models.sampling import SampleConfig

        add_flags(cm, SampleConfig, "sampling options (default: the run's)")

    e = sub.add_parser("evaluate", help="score a run on a file: lm, classify, tag, translate, caption, forecast, "
                                        "asr, music runs",
                       description="Score a file with a trained run (best.pt, else last.pt), read as its training "
                                   "data was: a language model's loss, perplexity and bits per character on a text; "
                                   "a classifier's accuracy, macro-F1 and confusion matrix on a labelled file; a "
                                   "tagger's entity F1 (or token accuracy) on a tagged file; a translation run's BLEU "
                                   "and chrF against the target side of a source<TAB>target file; a captioner's exact "
                                   "match on an IMAGE<TAB>caption file; a forecaster's backtest (MASE, sMAPE, 80% "
                                   "coverage beside the baselines) over the last --test steps of every series of a "
                                   "CSV; a speech recogniser's WER and CER on the recordings of a file<TAB>text "
                                   "transcript; a music run's test NLL beside the n-gram baseline and the checks of "
                                   "generated pieces, on the test split of a corpus (--data folk, chorales or a "
                                   "folder; --split valid for its validation split).")
    e.add_argument("run", help="run directory or checkpoint file")
    e.add_argument("--data", required=True, help="the file to score, in the run's training format")
    e.add_argument("--batch-size", type=int, default=None,
                   help="lm: parallel streams, or lines (default: 16); other tasks: inputs per forward pass "
                        "(default: the run's --eval-batch-size)")
    e.add_argument("--bptt", type=int, default=None,
                   help="chunk length of a truncated-BPTT run (default: the run's; lines runs are scored by line)")
    e.add_argument("--split", choices=("test", "valid"), default=None,
                   help="music: the corpus split to score; valid compares sampling settings without reading the "
                        "test split (default: test)")
    e.add_argument("--temperature", type=float, default=None, help="music: sampling temperature (default: the run's)")
    e.add_argument("--top-p", type=float, default=None, help="music: nucleus sampling p (default: the run's)")
    e.add_argument("--top-k", type=int, default=None, help="music: sample among the k most likely (default: the run's)")
    e.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    e.add_argument("--json", action="store_true", help="print the result as one JSON object")

    pr = sub.add_parser("predict", help="labels for new inputs from a classify or tag run, as JSON lines",
                        description="Predict with a trained run (best.pt, else last.pt) and write one JSON object "
                                    "per input. Text runs read the inputs given as arguments, else one per line from "
                                    "stdin; series (ts) and audio (wav-dir) runs read files, directories or "
                                    "archives. classify: {input, label, probabilities}; tag: tokens with tags and "
                                    "spans.")
    pr.add_argument("run", help="run directory or checkpoint file")
    pr.add_argument("inputs", nargs="*", metavar="INPUT", help="texts, or files for ts / wav-dir runs "
                    "(default: texts from stdin, one per line)")
    pr.add_argument("--data", default=None, metavar="FILE",
                    help="classify: a labelled file in the run's format instead of INPUTs; every record gets its "
                         "true label and the accuracy is printed to stderr")
    pr.add_argument("--output", default=None, metavar="FILE", help="write the JSON lines here (default: stdout)")
    pr.add_argument("--batch-size", type=int, default=256, help="inputs per forward pass (default: 256)")
    pr.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    pr.add_argument("--threads", type=int, default=0, help="CPU threads for torch (default: torch's choice)")
    pr.add_argument("--onnx", nargs="?", const="", default=None, metavar="FILE",
                    help="run the network in onnxruntime: the run's model.onnx (from rnnkit export), or FILE; "
                         "give texts before --onnx or as --onnx=FILE")

    xp = sub.add_parser("export", help="export a run's model to ONNX or torch.export (.pt2), checked against PyTorch",
                        description="Export a trained run (the checkpoint its predictions use) for deployment: "
                                    "the whole model (classify, tag: its emissions, forecast, adding, copy, "
                                    "seqdigits) or an encoder and a one-step decoder (lm, translate, caption), with "
                                    "dynamic batch and time axes. The files are read back (onnxruntime, or the saved "
                                    "program) and checked on the run's test data against the PyTorch model: the max "
                                    "difference per output is printed, and the files are kept only if the numbers "
                                    "agree and the predictions (labels, tags, greedy tokens) are identical.")
    xp.add_argument("run", help="run directory or checkpoint file")
    xp.add_argument("--format", default="onnx", metavar="FORMAT", help="onnx or pt2 (default: onnx)")
    xp.add_argument("--out", default=None, metavar="FILE",
                    help="file to write (default: model.onnx / model.pt2 in the run directory); encoder-decoder "
                         "tasks write FILE's stem + .encoder and .decoder")
    xp.add_argument("--exporter", default="legacy", metavar="NAME",
                    help="onnx: legacy (torch.onnx's TorchScript exporter: ONNX's own LSTM/GRU ops, the default) "
                         "or dynamo (torch.export, the recurrence as an ONNX Scan)")
    xp.add_argument("--data", default=None, metavar="FILE", help="check on this file (the run's format) instead "
                    "of the run's test data")
    xp.add_argument("--limit", type=int, default=64, help="inputs to check on (default: 64)")
    xp.add_argument("--tolerance", type=float, default=1e-4,
                    help="largest accepted |exported - PyTorch| / (1 + |PyTorch|) (default: 1e-4)")
    xp.add_argument("--json", action="store_true", help="print the files and the check as one JSON object")

    tx = sub.add_parser("translate", help="translate sentences with a trained translation run",
                        description="Translate TEXT arguments, or stdin one sentence per line, with a run's best.pt "
                                    "(else last.pt); one translation per line on stdout. Unknown words are read as "
                                    "<unk> (counted on stderr); a sentence longer than the run's --max-len is an "
                                    "error.")
    tx.add_argument("run", help="run directory or checkpoint file")
    tx.add_argument("text", nargs="*", help="sentences to translate (default: stdin, one per line)")
    tx.add_argument("--batch-size", type=int, default=64, help="sentences per batch (default: 64)")
    tx.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    tx.add_argument("--heatmap", default=None, metavar="PNG", help="also write the attention heatmap of the first "
                    "sentence to this PNG")
    if want("translate"):
        from rnnkit.models.decoding import DecodeConfig

        add_flags(tx, DecodeConfig, "decoding options (default: the run's)")

    cp = sub.add_parser("caption", help="caption images of 1-4 handwritten digits with a trained caption run",
                        description="Caption IMAGE files with a caption run's best.pt (else last.pt), one line per "
                                    "image: PATH<TAB>caption, or JSON with --json. An image is read as the run "
                                    "trained on: 40x12 pixels (width x height), grey (colour is converted), bright "
                                    "ink on a dark background, as the PNGs in a run's samples/ folder.")
    cp.add_argument("run", help="run directory or checkpoint file")
    cp.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG or any format Pillow reads)")
    cp.add_argument("--batch-size", type=int, default=64, help="images per batch (default: 64)")
    cp.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    cp.add_argument("--json", action="store_true", help="one JSON object per image: {\"image\", \"caption\"}")
    if want("caption"):
        from rnnkit.models.decoding import DecodeConfig

        add_flags(cp, DecodeConfig, "decoding options (default: the run's)")

    tsc = sub.add_parser("transcribe", help="speech to text with a trained asr run: WAV files, folders, or live PCM",
                         description="Transcribe recordings with an asr run's best.pt (else last.pt): one line per "
                                     "file (PATH<TAB>text), or JSON with per-symbol times (--json). WAVs at another "
                                     "sample rate are resampled, stereo mixed down. '-' reads raw 16-bit little-endian "
                                     "mono PCM from stdin (at --rate) and prints symbols as they are recognised "
                                     "(a --no-bidirectional run); --stream runs files through the same streaming path.")
    tsc.add_argument("run", help="run directory or checkpoint file")
    tsc.add_argument("inputs", nargs="+", metavar="INPUT", help="WAV files, folders or archives of them, or - (stdin)")
    tsc.add_argument("--json", action="store_true", help="one JSON object per file: file, text, tokens with times")
    tsc.add_argument("--stream", action="store_true", help="transcribe chunk by chunk as a live input (unidirectional "
                     "runs; greedy decoding)")
    tsc.add_argument("--rate", type=int, default=None, help="stdin: the PCM's sample rate (default: the run's)")
    tsc.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    if want("transcribe"):
        from rnnkit.tasks.asr import CTCDecodeConfig

        add_flags(tsc, CTCDecodeConfig, "decoding options (default: the run's)")

    g = sub.add_parser("gradflow", help="gradient norm through time (vanishing gradients) as a PNG",
                       description="Measure ||dL/dh_t|| for every step t of trained many-to-one runs (adding, "
                                   "seqdigits) and/or freshly initialised cells on the adding problem, and plot it "
                                   "(log scale) against the distance from the loss.")
    g.add_argument("runs", nargs="*", help="run directories or checkpoints (adding or seqdigits)")
    g.add_argument("--fresh", default="", help="comma list of cells to measure at initialisation, e.g. rnn,lstm,gru")
    g.add_argument("--lag", type=int, default=None,
                   help="adding problem length T, >= 1 (default: each run's; --fresh: the runs' (the longest), "
                        "100 without runs)")
    g.add_argument("--hidden-size", type=int, default=128, help="--fresh models: hidden units (default: 128)")
    g.add_argument("--out", default="gradflow.png", help="PNG to write (default: gradflow.png)")

    r = sub.add_parser("report", help="RUN/report.html: a run's curves, samples, errors and what its units track; "
                                      "or the adding-problem benchmark (report adding)",
                       description="rnnkit report RUN [RUN...]: write one self-contained HTML page (no network: "
                                   "inline SVG, images and script) to the first RUN's report.html (or --out FILE): "
                                   "config and data, loss and metric curves (several runs on one chart), throughput, "
                                   "the task's own views (language models: samples, per-token loss, hidden units "
                                   "against named properties of the text, gate saturation; classification: confusion "
                                   "matrix, per-class precision/recall, confident errors, attention weights; tagging: "
                                   "per-type scores, gold and predicted spans; translation and captioning: outputs "
                                   "beside references, attention; forecasting: series, forecasts, baselines; speech: "
                                   "alignment) and the gradient flow through time. Whatever a run lacks is listed, "
                                   "not fatal. rnnkit report adding: train Elman, LSTM and GRU on the adding problem "
                                   "at each lag with the same budget, then write report.md (steps until validation "
                                   "MSE < 0.01, test MSE), report.json and gradflow.png to --out; finished runs in "
                                   "--out are reused.")
    r.add_argument("targets", nargs="+", metavar="RUN", help="run directories, or the word adding (the benchmark)")
    r.add_argument("--lags", default="50,100,200", help="adding: comma list of lags T (default: 50,100,200)")
    r.add_argument("--cells", default="rnn,lstm,gru", help="comma list of cells (default: rnn,lstm,gru)")
    r.add_argument("--max-time", type=float, default=300.0, help="seconds of training per run (default: 300)")
    r.add_argument("--max-steps", type=int, default=0, help="optimizer steps per run (default: 0, no limit)")
    r.add_argument("--hidden-size", type=int, default=128, help="hidden units (default: 128)")
    r.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate (default: 2e-3)")
    r.add_argument("--batch-size", type=int, default=64, help="sequences per step (default: 64)")
    r.add_argument("--eval-every", type=int, default=100, help="validation every N steps (default: 100)")
    r.add_argument("--stop-below", type=float, default=1e-3,
                   help="stop a run once its validation MSE is below this (default: 0.001)")
    r.add_argument("--figure-lag", type=int, default=0, help="lag of the gradient figure (default: the largest)")
    r.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    r.add_argument("--out", default=None, help="RUN reports: the HTML file (default: RUN/report.html); adding: the "
                   "report directory (default: runs/report-adding)")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    _REPORT_DEFAULTS.update({a.dest: a.default for a in r._actions})

    ins = sub.add_parser("inspect", help="what a language model's hidden units track over any text, as HTML",
                         description="Read a text file with a trained lm run (best.pt, else last.pt) and write an "
                                     "HTML page: its units (h and c of every layer) ranked by how well they track "
                                     "named properties of the text (inside quotes or parentheses, position in "
                                     "line, after a line break, indentation depth, all-caps lines), the best "
                                     "coloured over the text with their correlation, and the saturation of the "
                                     "gates per layer (Karpathy et al. 2015).")
    ins.add_argument("run", help="run directory or checkpoint file (an lm run)")
    ins.add_argument("--text", required=True, metavar="FILE", help="the text to read (UTF-8)")
    ins.add_argument("--out", default=None, metavar="FILE",
                     help="HTML file to write (default: inspect.html in the run directory)")

    d = sub.add_parser("demo", help="train a character LSTM on Python's own help texts (about 2 minutes)",
                       description="The main job: a character-level LSTM trained on the help() topics "
                                   "that ship with Python (no download), with a sample before and after.")
    d.add_argument("--seconds", type=float, default=100.0, help="training time budget, > 0 (default: 100)")
    d.add_argument("--cell", default="lstm", choices=("lstm", "gru", "rnn"), help="recurrent cell (default: lstm)")
    d.add_argument("--out", default=None, help="run directory (default: runs/demo-<date>-<time>)")
    d.add_argument("--threads", type=int, default=0, help="CPU threads (default: chosen from the model's size and "
                   "the free cores)")
    return p


def _sample(args: argparse.Namespace) -> int:
    from rnnkit.config import as_flags, given_flags
    from rnnkit.models.sampling import SampleConfig
    from rnnkit.tasks import lm

    if args.length < 1:
        raise RnnkitError(f"--length must be >= 1, got {args.length}")
    if args.seed is not None and not 0 <= args.seed < 2**63:  # torch's generators take a 64-bit seed
        raise RnnkitError(f"--seed must be in 0 .. 2**63 - 1, got {args.seed}")
    if args.threads < 0:
        raise RnnkitError(f"--threads must be >= 0, got {args.threads}")
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    try:
        sample = SampleConfig(**given_flags(args, SampleConfig))
    except ValueError as e:
        raise RnnkitError(as_flags(str(e), SampleConfig)) from None
    model, vocab, conf, _ = lm.load_run(args.run, args.device)
    lines = conf.get("data", {}).get("bptt") == 0  # trained on whole lines: sample whole lines
    # the notes on the prime come first
    pieces = lm.generate_text(model, vocab, args.prime, args.length, sample, args.seed, lines)
    sys.stdout.write(args.prime)
    for piece in pieces:
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


def _compose(args: argparse.Namespace) -> int:
    import json

    from rnnkit.config import build, given_flags
    from rnnkit.models.sampling import SampleConfig
    from rnnkit.tasks import music, runs

    saved = runs.load_checkpoint(args.run, music.TASK)[1].get("config", {}).get("sample", {})
    try:
        sample = build(SampleConfig, {**saved, **given_flags(args, SampleConfig)}, "sampling options",
                       flagged=given_flags(args, SampleConfig))
    except ValueError as e:
        raise RnnkitError(f"sampling options: {e}") from None
    res = music.compose(args.run, args.key, args.metre, args.bars, args.out, sample, args.seed, args.constraint,
                        args.tempo, args.device, args.title)
    if args.json:
        print(json.dumps(res))
    else:
        print(f"{res['kind']} piece in {res['key']}, {res['metre']}, {res['bars']} bars ({res['tokens']} tokens):")
        for path in res["files"].values():
            print(f"  {path}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import json

    from rnnkit.tasks import evaluate

    sampling = {k: v for k, v in (("temperature", args.temperature), ("top_p", args.top_p), ("top_k", args.top_k))
                if v is not None}
    res = evaluate.evaluate_run(args.run, args.data, args.batch_size, args.bptt, args.device, args.split, sampling)
    print(json.dumps(res) if args.json else evaluate.summary(res))
    return 0


def _predict(args: argparse.Namespace) -> int:
    import json
    import os

    from rnnkit.outputs import atomic_file, check_output_path
    from rnnkit.tasks import predict

    if args.batch_size < 1:
        raise RnnkitError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.data is not None and args.inputs:
        raise RnnkitError("give either INPUTs or --data FILE, not both")
    if args.onnx and not args.onnx.endswith(".onnx"):
        raise RnnkitError(f"--onnx {args.onnx!r}: expected an .onnx file; give texts before --onnx, or --onnx=FILE")
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    # texts from stdin, one per line, when neither arguments nor a labelled file are given: labelled and
    # written a batch at a time as they arrive, so that a pipe gets its answers at once and memory stays flat
    batches = None
    if not args.inputs and not args.data:
        from rnnkit.lines import line_batches

        batches = ([t for t in b if t.strip()] for b in line_batches(sys.stdin, args.batch_size))
    if args.output:  # never one of the inputs or the run's files; written to a temporary file, renamed at the end
        check_output_path(args.output, [args.run, args.data, args.onnx or None, *args.inputs], [args.run], "--output")
    right = total = 0
    with atomic_file(args.output) if args.output else contextlib.nullcontext(sys.stdout) as out:
        try:
            written = 0
            records = predict.predict(args.run, args.inputs, args.device, args.data, args.batch_size, args.onnx,
                                      batches)
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                if not args.output:
                    out.flush()
                written += 1
                if "true" in record:
                    total += 1
                    right += record["true"] == record["label"]
        except BrokenPipeError:  # the reader stopped early (| head): not an error
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (Python flushes stdout again at exit)
            return 0
        if not written and not args.inputs and not args.data:  # exit 0 with no output would look like success
            raise RnnkitError("no inputs: stdin held no non-blank line; give the inputs as arguments, or one per line")
    if total:
        print(f"{args.data}: accuracy {100 * right / total:.2f}% ({right}/{total})", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    import json

    from rnnkit.export import export_run

    res = export_run(args.run, args.format, args.out, args.exporter, args.data, args.limit, args.tolerance)
    if args.json:
        r = res.report
        print(json.dumps({"task": res.task, "exporter": res.exporter,
                          "files": {k: str(v) for k, v in res.paths.items()}, "inputs": r.inputs,
                          "max_diff": r.diffs, "scaled_diff": r.scaled,
                          "identical": {k: list(v) for k, v in r.same.items()}}))
        return 0
    for name, path in res.paths.items():
        print(f"wrote {path} ({res.task} {name}, {args.format}, {res.exporter})")
    for line in res.report.lines():
        print(line)
    return 0


def _translate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rnnkit.config import build, given_flags
    from rnnkit.models.decoding import DecodeConfig
    from rnnkit.tasks import runs, translate
    from rnnkit.training import checkpoint

    if args.batch_size < 1:
        raise RnnkitError(f"--batch-size must be >= 1, got {args.batch_size}")
    saved = checkpoint.load(runs.find_checkpoint(args.run)).get("config", {}).get("decode", {})
    decode = build(DecodeConfig, {**saved, **given_flags(args, DecodeConfig)}, "decoding options")
    decode.validate()
    if args.text:
        batches: Any = [args.text]
    else:  # translated a batch at a time as the lines arrive: a pipe gets its answers at once, memory stays flat
        from rnnkit.lines import line_batches

        batches = line_batches(sys.stdin, args.batch_size)
    out = translate.translate_batches(args.run, batches, decode, args.device, args.batch_size,
                                      "argument" if args.text else "stdin",
                                      Path(args.heatmap) if args.heatmap else None,
                                      lambda msg: print(msg, file=sys.stderr))
    for line in out:
        print(line, flush=True)
    return 0


def _caption(args: argparse.Namespace) -> int:
    import json

    from rnnkit.config import given_flags
    from rnnkit.models.decoding import DecodeConfig
    from rnnkit.tasks import caption

    out = caption.caption_files(args.run, args.images, given_flags(args, DecodeConfig), args.device,
                                args.batch_size)
    for path, text in zip(args.images, out):
        print(json.dumps({"image": path, "caption": text}) if args.json else f"{path}\t{text}")
    return 0


def _transcribe(args: argparse.Namespace) -> int:
    import json

    from rnnkit.config import given_flags
    from rnnkit.tasks import asr

    flags = given_flags(args, asr.CTCDecodeConfig)
    if args.rate is not None and args.rate < 1:
        raise RnnkitError(f"--rate must be >= 1, got {args.rate}")
    if "-" in args.inputs:
        if len(args.inputs) > 1:
            raise RnnkitError("- (stdin) must be the only input")

        def write(text: str) -> None:
            sys.stdout.write(text)
            sys.stdout.flush()

        text = asr.transcribe_stdin(args.run, sys.stdin.buffer, None if args.json else write, args.rate, flags,
                                    args.device)
        print(json.dumps({"file": "-", "text": text}) if args.json else "")
        return 0
    for res in asr.transcribe(args.run, args.inputs, flags, args.stream, args.device):
        print(json.dumps(res) if args.json else f"{res['file']}\t{res['text']}", flush=True)
    return 0


def _train(args: argparse.Namespace) -> Any:
    """Train the task ``args`` names; returns the run directory."""
    if args.task == "lm":
        from rnnkit.tasks import lm

        run_dir, configs, resume = lm.resolve_configs(args)
        lm.train(run_dir, configs, resume=resume)
        return run_dir
    if args.task == "classify":
        from rnnkit.tasks import classify, options

        run_dir, configs, resume = options.resolve_configs(args, "classify", classify.sections())
        classify.train(run_dir, configs, resume=resume)
        return run_dir
    if args.task == "tag":
        from rnnkit.tasks import tag

        run_dir, configs, resume = tag.resolve_configs(args)
        tag.train(run_dir, configs, resume=resume)
        return run_dir
    if args.task == "translate":
        from rnnkit.tasks import options, translate

        run_dir, configs, resume = options.resolve_configs(args, translate.TASK, translate.sections())
        translate.train(run_dir, configs, resume=resume)
        return run_dir
    if args.task == "caption":
        from rnnkit.tasks import caption, options

        run_dir, configs, resume = options.resolve_configs(args, caption.TASK, caption.sections())
        caption.train(run_dir, configs, resume=resume)
        return run_dir
    if args.task == "asr":
        from rnnkit.tasks import asr, options

        run_dir, configs, resume = options.resolve_configs(args, asr.TASK, asr.sections())
        asr.train(run_dir, configs, resume=resume)
        return run_dir
    if args.task == "music":
        from rnnkit.tasks import music, options

        run_dir, configs, resume = options.resolve_configs(args, music.TASK, music.sections())
        music.train(run_dir, configs, resume=resume)
        return run_dir
    if args.task == "forecast":
        from rnnkit.tasks import forecast, options

        run_dir, configs, resume = options.resolve_configs(args, forecast.TASK, forecast.sections())
        forecast.train(run_dir, configs, resume=resume)
        return run_dir
    from rnnkit.tasks import memory, options

    run_dir, configs, resume = options.resolve_configs(args, args.task, memory.sections(args.task))
    memory.train(args.task, run_dir, configs, resume=resume)
    return run_dir


ADDING_ONLY = ("lags", "cells", "max_time", "max_steps", "hidden_size", "lr", "batch_size", "eval_every",
               "stop_below", "figure_lag", "seed", "no_progress")


def _is_adding(targets: list[str]) -> bool:
    """``rnnkit report adding``: the benchmark, unless a run directory of that name exists."""
    from pathlib import Path

    return targets[0] == "adding" and not Path("adding").is_dir()


def _only_adding_flags(args: argparse.Namespace) -> None:
    """Refuse the benchmark's flags on a report of runs (they would be silently ignored)."""
    given = [n for n in ADDING_ONLY if getattr(args, n) != _REPORT_DEFAULTS.get(n)]
    if given:
        raise RnnkitError(f"{', '.join('--' + n.replace('_', '-') for n in given)}: options of rnnkit report adding, "
                          f"not of a report of runs")


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "bench":
        return _bench(parser, args)
    if args.command == "build-loops":
        return _build_loops()
    if args.command == "train":
        if args.task is None:
            parser.parse_args(["train", "--help"])
        run_dir = _train(args)
        from rnnkit.diagnostics.report import report_after_training

        report_after_training(run_dir)  # a failure is a warning: the run is complete either way
        return 0
    if args.command == "sample":
        return _sample(args)
    if args.command == "forecast":
        from rnnkit.tasks import forecast

        rows = forecast.forecast_file(args.run, args.data, args.out, args.plot or None, args.device)
        print(f"{len(rows)} forecasts (80% intervals) written to {args.out}", file=sys.stderr)
        return 0
    if args.command == "evaluate":
        return _evaluate(args)
    if args.command == "compose":
        return _compose(args)
    if args.command == "predict":
        return _predict(args)
    if args.command == "export":
        return _export(args)
    if args.command == "translate":
        return _translate(args)
    if args.command == "caption":
        return _caption(args)
    if args.command == "transcribe":
        return _transcribe(args)
    if args.command == "gradflow":
        from rnnkit.tasks import report

        report.gradflow_command(args.runs, [c.strip() for c in args.fresh.split(",") if c.strip()], args.lag,
                                args.hidden_size, args.out)
        return 0
    if args.command == "inspect":
        from rnnkit.diagnostics.report.inspect import inspect_command

        print(f"wrote {inspect_command(args.run, args.text, args.out)}")
        return 0
    if args.command == "report":
        from pathlib import Path

        from rnnkit.tasks import report

        if not _is_adding(args.targets):
            from rnnkit.diagnostics.report import write_report

            _only_adding_flags(args)
            print(f"wrote {write_report(args.targets, args.out)}")
            return 0
        if len(args.targets) > 1:
            raise RnnkitError("report adding takes no run directories; run rnnkit report RUN [RUN...] for those")
        try:
            lags = [int(v) for v in args.lags.split(",") if v.strip()]
        except ValueError:
            raise RnnkitError(f"--lags: expected a comma list of integers, got {args.lags!r}") from None
        cells = [c.strip() for c in args.cells.split(",") if c.strip()]
        report.adding_report(Path(args.out or "runs/report-adding"), lags, cells,
                             args.max_time, args.max_steps, args.hidden_size, args.lr, args.batch_size,
                             args.eval_every, args.stop_below, args.figure_lag or None, args.seed,
                             not args.no_progress)
        return 0
    if args.command == "demo":
        from rnnkit.tasks import demo

        if not args.seconds > 0:
            raise RnnkitError(f"--seconds must be > 0, got {args.seconds}")
        demo.run(out=args.out, seconds=args.seconds, cell=args.cell, threads=args.threads)
        return 0
    return 2


def main(argv: list[str] | None = None) -> int:
    restore = _sigterm_as_interrupt()
    args = None
    # torch is first imported here (rnnkit's package and this module import it lazily), inside the handler: a
    # Ctrl-C during the seconds that takes is an interruption too, one line, not a traceback
    try:
        argv = sys.argv[1:] if argv is None else argv
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        return _run(parser, args)
    except BrokenPipeError:  # `rnnkit predict ... | head`: the reader has what it wanted; quietly, as cat does
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141  # 128 + SIGPIPE, what a shell reports for a command killed by it
    except RnnkitError as e:
        print(f"rnnkit: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a directory that can't be created, a full disk, ...: the message names the path
        print(f"rnnkit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        return _interrupted(args, e)
    finally:
        restore()


def _sigterm_as_interrupt() -> Callable[[], object]:
    """SIGTERM (kill, a scheduler's time limit) stops a command as Ctrl-C does: one line and status 143,
    not a silent death; a training saves its checkpoint first (``Trainer.fit``). Returns the undo."""
    import signal
    import threading

    from rnnkit.errors import Interrupted

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    old = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, old)


def _interrupted(args: argparse.Namespace | None, e: KeyboardInterrupt) -> int:
    """The one line for a command stopped by SIGINT or SIGTERM, and its exit status (128 + the signal)."""
    import signal
    from pathlib import Path

    signum = getattr(e, "signum", signal.SIGINT)
    saved, step = getattr(e, "checkpoint", None), getattr(e, "step", None)
    with contextlib.suppress(OSError, ValueError):  # end a half-written line (stdout may be a closed pipe)
        sys.stdout.write("\n")
        sys.stdout.flush()
    command = getattr(args, "command", None)
    hint = ""
    if command == "train":
        out = Path(args.out) if getattr(args, "out", None) else Path(saved).parent if saved else None
        if out is not None and (out / "last.pt").is_file():
            at = f" at step {step}" if saved and step is not None else ""
            hint = (f"; {out / 'last.pt'} holds the run{at}: continue it with rnnkit train {args.task} --resume "
                    f"--out {out}")
        elif out is not None:
            hint = f"; no checkpoint was written yet: run the same command again to start {out} afresh"
    elif command == "demo" and saved:
        hint = f"; {saved} keeps the run so far"
    what = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
    print(f"rnnkit: {what}{hint}", file=sys.stderr)
    return 128 + int(signum)


def _build_loops() -> int:
    import time

    from rnnkit.backends import compiled

    t0 = time.perf_counter()
    lib = compiled.library_path()
    if lib.exists():
        print(f"already built for this machine: {lib}")
        return 0
    try:
        compiled.build()
    except RuntimeError as e:
        raise RnnkitError(f"the C++ time loop did not build; the Python loop keeps running: {e}") from None
    print(f"built {lib} in {time.perf_counter() - t0:.0f} s")
    return 0


def _bench(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from rnnkit import bench

    if args.lengths:
        from rnnkit import bench_lengths

        if args.repeats is not None and args.repeats < 1:
            raise RnnkitError(f"--repeats must be >= 1, got {args.repeats}")
        cell = args.cells.split(",")[0].strip() if args.cells != ",".join(bench.CELLS) else "lstm"
        if cell not in bench_lengths.CELLS:
            raise RnnkitError(f"bench --lengths --cells: unknown {cell}; expected from "
                              f"{', '.join(bench_lengths.CELLS)}")
        bench_lengths.main(cases=args.cases, cell=cell, rounds=args.repeats or 9)
        return 0
    if args.variants:
        from rnnkit import bench_variants

        if args.repeats is not None and args.repeats < 1:
            raise RnnkitError(f"--repeats must be >= 1, got {args.repeats}")
        bench_variants.main(cases=args.cases, rounds=args.repeats or 7, autograd=not args.no_autograd)
        return 0

    cells = tuple(c.strip() for c in args.cells.split(",") if c.strip())
    names = tuple(c.strip() for c in args.contenders.split(",") if c.strip())
    for flag, given, known in (("--cells", cells, bench.CELLS), ("--contenders", names, bench.CONTENDERS)):
        bad = [c for c in given if c not in known]
        if bad:
            raise RnnkitError(f"bench {flag}: unknown {', '.join(bad)}; expected from {', '.join(known)}")
    if "torch.nn" not in names:
        names = ("torch.nn", *names)  # ratios are to torch.nn
    if args.repeats is not None and args.repeats < 1:
        raise RnnkitError(f"--repeats must be >= 1, got {args.repeats}")
    if args.json:  # checked before minutes of timing, written atomically after them
        from rnnkit.outputs import check_output_path

        check_output_path(args.json, flag="--json")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    bench.main(quick=args.quick, cells=cells, cases=args.cases, repeats=args.repeats,
               json_path=args.json, names=names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
