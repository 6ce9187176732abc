"""Speech to text with CTC: ``rnnkit train asr`` and ``rnnkit transcribe``.

Data (:mod:`rnnkit.data.spoken_digits`): by default connected digits composed from the Free Spoken
Digit Dataset under ``--protocol recordings`` (test recordings never heard in training) or
``speaker:NAME`` (a speaker never heard); or, with ``--transcripts``, a user's WAV files and their
transcripts, character level. Every epoch composes fresh training utterances (seeded by seed and
epoch, so a resumed run sees the same ones); validation and test utterances are composed once.

Model: :class:`~rnnkit.models.recognizer.SpeechRecognizer` on log-mel frames. Validation: the CTC
loss per transcript symbol and the word/character error rates of greedy decoding (``--select wacc``,
word accuracy = 1 - WER, picks best.pt by default). Test, with best.pt: WER and CER of greedy and of
prefix beam search (``--beam-size``), per speaker, a confusion table of the words (digits), an
alignment plot (posteriors over the spectrogram) and, for a unidirectional model, the same
utterances streamed in ``--chunk-ms`` chunks: identical output, real-time factor and latency.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit import config as cfgmod
from rnnkit.config import field
from rnnkit.data import audio, spoken_digits
from rnnkit.data.batching import pad_sequences
from rnnkit.errors import RnnkitError
from rnnkit.metrics.display import show_all
from rnnkit.models.recognizer import RecognizerConfig, SpeechRecognizer
from rnnkit.tasks import runs
from rnnkit.training import StatelessTask, TrainConfig, distributed

TASK = "asr"
VTLP_STEP = 0.02  # --vtlp factors are drawn from a grid of this spacing: one filterbank each, built once
DIGIT_SYMBOLS = " 0123456789"  # connected digits: the digits and the space between them; id = index + 1


@dataclasses.dataclass
class ASRDataConfig:
    """Where the recordings are, how utterances are composed and batched."""

    data: str = field("", "FSDD's recordings.tar.xz (or a folder of its WAVs); with --transcripts: the folder or "
                      "archive of your WAV files", path=True)
    transcripts: str = field("", "a file<TAB>text transcript of your recordings (training); empty: connected "
                             "digits composed from FSDD", path=True)
    valid_transcripts: str = field("", "your validation recordings' transcripts (default: --valid-fraction of "
                                   "--transcripts)", path=True)
    test_transcripts: str = field("", "your test recordings' transcripts (default: --test-fraction of "
                                  "--transcripts)", path=True)
    valid_fraction: float = field(0.1, "--transcripts without --valid-transcripts: share held out for validation")
    test_fraction: float = field(0.1, "--transcripts without --test-transcripts: share held out for testing")
    protocol: str = field("recordings", "connected digits: recordings (FSDD's usual split: indices 0-4 test, 5-9 "
                          "validation) or speaker:NAME (every recording of NAME is test)")
    valid_speaker: str = field("next", "connected digits, speaker:NAME: the validation speaker: next (the next in "
                               "alphabetical order), a name, or none (every other speaker trains, leave one speaker "
                               "out; their recordings 5-9 validate, and best.pt is the last checkpoint)")
    train_size: int = field(4000, "connected digits: training utterances composed per epoch (fresh every epoch)")
    valid_size: int = field(300, "connected digits: validation utterances (composed once)")
    test_size: int = field(1000, "connected digits: test utterances (composed once)")
    max_digits: int = field(7, "connected digits: digits per utterance, 1 to this many")
    gain_db: float = field(6.0, "connected digits: training utterances scaled by a random gain within +-this (dB)")
    noise: float = field(0.002, "connected digits: standard deviation of the background noise (full scale 1)")
    speed: float = field(0.1, "connected digits: training recordings played at a random speed within 1 +- this "
                         "(speed perturbation; 0: off)")
    vtlp: float = field(0.0, "connected digits: training utterances' frequency axes warped by a random factor within "
                        "1 +- this (vocal tract length perturbation, in steps of 0.02; 0: off)")
    data_seed: int = field(1, "seed of the validation and test compositions and of the held-out shares")
    batch_size: int = field(32, "utterances per training step (split across processes under torchrun)")
    eval_batch_size: int = field(64, "utterances per forward pass when scoring")


@dataclasses.dataclass
class SpeechAudioConfig(audio.AudioConfig):
    """Log-mel frames without deltas by default: deltas look two frames ahead, which a stream can't."""

    features: str = field("logmel", "wav: features per frame", choices=audio.FEATURES)
    deltas: bool = field(False, "wav: append delta coefficients (needs look-ahead: offline only)")


@dataclasses.dataclass
class CTCDecodeConfig:
    """How posteriors become text."""

    beam_size: int = field(8, "prefix beam search width for the test set and rnnkit transcribe (1: greedy)")
    chunk_ms: float = field(100.0, "streaming: audio per chunk (ms)")

    def validate(self) -> None:
        if self.beam_size < 1:
            raise RnnkitError(f"--beam-size must be >= 1, got {self.beam_size}")
        if not self.chunk_ms > 0:
            raise RnnkitError(f"--chunk-ms must be > 0, got {self.chunk_ms}")


@dataclasses.dataclass
class ASRTrainConfig(TrainConfig):
    """The Trainer's options with speech defaults: warm-up, and best.pt by validation word accuracy."""

    lr: float = field(2e-3, "peak learning rate")
    warmup_steps: int = field(200, "linear warm-up steps before the schedule")
    epochs: int = field(15, "passes over the training data")
    eval_every: int = field(250, "evaluate every N steps (0: at the end of each epoch)")


def sections() -> dict[str, type]:
    return {"data": ASRDataConfig, "audio": SpeechAudioConfig, "model": RecognizerConfig,
            "decode": CTCDecodeConfig, "train": ASRTrainConfig}


def check_data(cfg: ASRDataConfig, audio_cfg: audio.AudioConfig) -> None:
    if not cfg.data:
        raise RnnkitError("--data is required: FSDD's recordings.tar.xz, or with --transcripts your WAV folder")
    for name in ("train_size", "valid_size", "test_size", "batch_size", "eval_batch_size", "max_digits"):
        if getattr(cfg, name) < 1:
            raise RnnkitError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(cfg, name)}")
    for name in ("valid_fraction", "test_fraction"):
        if not 0 <= getattr(cfg, name) < 0.5:
            raise RnnkitError(f"--{name.replace('_', '-')} must be in [0, 0.5), got {getattr(cfg, name)}")
    if not 0 <= cfg.speed < 0.5:
        raise RnnkitError(f"--speed must be in [0, 0.5), got {cfg.speed}")
    if not 0 <= cfg.vtlp < 0.5:
        raise RnnkitError(f"--vtlp must be in [0, 0.5), got {cfg.vtlp}")
    if not 0 <= cfg.gain_db <= 40 or not 0 <= cfg.noise < 1:
        raise RnnkitError(f"--gain-db must be in [0, 40] and --noise in [0, 1), got {cfg.gain_db} and {cfg.noise}")
    if not cfg.transcripts and cfg.protocol != "recordings" and not cfg.protocol.startswith("speaker:"):
        raise RnnkitError(f"--protocol must be recordings or speaker:NAME, got {cfg.protocol!r}")
    if cfg.valid_speaker != "next" and (cfg.transcripts or not cfg.protocol.startswith("speaker:")):
        raise RnnkitError(f"--valid-speaker {cfg.valid_speaker}: only with --protocol speaker:NAME (connected digits), "
                          f"got {'--transcripts' if cfg.transcripts else '--protocol ' + cfg.protocol}")
    audio_cfg.validate()
    if not cfg.transcripts and audio_cfg.sample_rate != spoken_digits.FSDD_RATE:
        raise RnnkitError(f"--sample-rate {audio_cfg.sample_rate}: FSDD is recorded at {spoken_digits.FSDD_RATE} Hz")


# ---------------------------------------------------------------------------------------------- data

@dataclasses.dataclass
class Item:
    """One utterance ready to score: features ``(T, I)``, transcript, speaker (or group), digit end times."""

    feats: Tensor
    text: str
    speaker: str
    ends: list[float]
    samples: Tensor | None = None


def encode(text: str, symbols: str, where: str) -> Tensor:
    ids = []
    for ch in text:
        k = symbols.find(ch)
        if k < 0:
            raise RnnkitError(f"{where}: the symbol {ch!r} is not one the model can write (its symbols: "
                              f"{symbols!r})")
        ids.append(k + 1)
    return torch.tensor(ids, dtype=torch.long)


def decode_ids(ids: Iterable[int], symbols: str) -> str:
    return " ".join("".join(symbols[i - 1] for i in ids if 0 < i <= len(symbols)).split())


class Corpus:
    """The training pool and the fixed validation and test utterances of a run (see the module docstring)."""

    def __init__(self, cfg: ASRDataConfig, audio_cfg: audio.AudioConfig, say: Callable[..., None]) -> None:
        self.cfg, self.fx = cfg, audio.FeatureExtractor(audio_cfg)
        self._speed_cache: dict[tuple[int, int], Tensor] = {}
        self.rate = audio_cfg.sample_rate
        if cfg.transcripts:
            self._user(say)
        else:
            self._digits(say)

    def _digits(self, say: Callable[..., None]) -> None:
        cfg = self.cfg
        recs = spoken_digits.load_fsdd(cfg.data)
        self.pools = spoken_digits.split_recordings(recs, cfg.protocol, cfg.valid_speaker)
        self.symbols = DIGIT_SYMBOLS
        self.user_train: list[Item] | None = None
        self.valid = self._fixed("valid", cfg.valid_size, 1)
        self.test = self._fixed("test", cfg.test_size, 2)
        speakers = {k: sorted({r.speaker for r in v}) for k, v in self.pools.items()}
        say(f"connected digits, protocol {cfg.protocol}: recordings {len(self.pools['train'])} / "
            f"{len(self.pools['valid'])} / {len(self.pools['test'])} (train / valid / test pools; test speakers "
            f"{', '.join(speakers['test'])}); {cfg.train_size:,} training utterances per epoch of 1-{cfg.max_digits} "
            f"digits, {cfg.valid_size} validation, {cfg.test_size} test")

    def _fixed(self, split: str, n: int, stream: int) -> list[Item]:
        gen = torch.Generator().manual_seed(stream * 10**9 + self.cfg.data_seed)
        utts = spoken_digits.compose(self.pools[split], n, gen, self.cfg.max_digits, noise=self.cfg.noise)
        return [self.item(u.samples, u.text, u.speaker, u.ends) for u in utts]

    def item(self, samples: Tensor, text: str, speaker: str, ends: list[float], keep: bool = True,
             warp: float = 1.0) -> Item:
        return Item(self.fx(samples, warp), text, speaker, ends, samples if keep else None)

    def _user(self, say: Callable[..., None]) -> None:
        from rnnkit.data.speech_audio import load_recording

        cfg = self.cfg
        names = dict(audio.wav_files(cfg.data)) if not Path(cfg.data).is_dir() else None

        def read(tsv: str) -> list[Item]:
            pairs = spoken_digits.read_transcripts(tsv, cfg.data)
            out = []
            for name, text in pairs:
                raw = names.get(f"{cfg.data}:{name}") if names is not None else Path(name).read_bytes()
                if raw is None:
                    raise RnnkitError(f"{tsv}: {name} is not in {cfg.data}")
                x = load_recording(raw, name, self.rate)
                out.append(self.item(x, text, Path(name).parent.name or "-", [], keep=False))
            return out

        items = read(cfg.transcripts)
        gen = torch.Generator().manual_seed(cfg.data_seed)
        order = torch.randperm(len(items), generator=gen).tolist()
        n_valid = 0 if cfg.valid_transcripts else round(cfg.valid_fraction * len(items))
        n_test = 0 if cfg.test_transcripts else round(cfg.test_fraction * len(items))
        valid = read(cfg.valid_transcripts) if cfg.valid_transcripts else [items[i] for i in order[:n_valid]]
        test = read(cfg.test_transcripts) if cfg.test_transcripts else \
            [items[i] for i in order[n_valid : n_valid + n_test]]
        train = [items[i] for i in order[n_valid + n_test :]]
        if not train or not valid:
            raise RnnkitError(f"{cfg.transcripts}: {len(items)} recordings are too few to hold out validation "
                              f"({n_valid}) and test ({n_test}) recordings and still train")
        # the space is always a symbol: word boundaries, and the lead of a unidirectional model's targets
        self.symbols = "".join(sorted({" "} | {ch for it in train for ch in it.text}))
        for split, its in (("validation", valid), ("test", test)):
            for it in its:
                encode(it.text, self.symbols, f"{split} transcript {it.text!r}")
        self.user_train, self.valid, self.test, self.pools = train, valid, test, {}
        say(f"{cfg.transcripts}: {len(train)} / {len(valid)} / {len(test)} recordings (train / valid / test), "
            f"{len(self.symbols)} symbols")

    def train_items(self, epoch: int, seed: int) -> list[Item]:
        if self.user_train is not None:
            gen = torch.Generator().manual_seed(seed * 10**6 + epoch)
            return [self.user_train[i] for i in torch.randperm(len(self.user_train), generator=gen).tolist()]
        gen = torch.Generator().manual_seed(seed * 10**6 + epoch)
        utts = spoken_digits.compose(self.pools["train"], self.cfg.train_size, gen, self.cfg.max_digits,
                                     noise=self.cfg.noise, gain_db=self.cfg.gain_db, speed=self.cfg.speed,
                                     cache=self._speed_cache)
        steps = round(self.cfg.vtlp / VTLP_STEP)
        warps = [1.0] * len(utts)
        if steps and epoch >= 0:  # epoch -1: the normalisation statistics, of unwarped features
            # a generator of its own, so that the compositions stay those of a run without --vtlp
            wgen = torch.Generator().manual_seed(seed * 10**6 + epoch + 5 * 10**5)
            warps = [round(1 + VTLP_STEP * k, 4) for k in
                     (torch.randint(2 * steps + 1, (len(utts),), generator=wgen) - steps).tolist()]
        return [self.item(u.samples, u.text, u.speaker, u.ends, keep=False, warp=w) for u, w in zip(utts, warps)]

    def statistics(self) -> tuple[Tensor, Tensor]:
        """Per-channel mean and standard deviation of training features (a fixed sample of utterances)."""
        items = self.user_train if self.user_train is not None else self.train_items(-1, 0)[:500]
        frames = torch.cat([it.feats for it in items])
        return frames.mean(0), frames.std(0)


def leads(model: nn.Module) -> bool:
    """Whether ``model``'s CTC targets begin with a word boundary (a space): for unidirectional models.

    A unidirectional model can tell the first frames of every utterance apart (its state starts at
    zero), and early in training CTC gives the first label much of its mass there: the model learns
    to emit the first word at frame 0, before hearing it, and stays there (a guess: 90% of first
    digits wrong, the others 97% right). A boundary symbol first, always the same, takes that
    place at no cost; decoding drops it. A bidirectional model hears the whole utterance and
    needs none."""
    inner = getattr(model, "module", model)  # DDP
    return not inner.config.bidirectional


def collate(items: list[Item], symbols: str, lead: bool = False) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(feats (B, T, I), lengths (B,), targets (sum S,), target_lengths (B,))``; ``lead``: every target
    starts with a space (see :func:`leads`)."""
    x, lengths = pad_sequences([it.feats for it in items], 0.0)
    ys = [encode(" " * lead + it.text, symbols, f"transcript {it.text!r}") for it in items]
    return x, lengths, torch.cat(ys), torch.tensor([len(y) for y in ys])


def ctc_loss(model: nn.Module, batch: tuple[Tensor, Tensor, Tensor, Tensor]) -> tuple[Tensor, int]:
    """The CTC loss per transcript symbol over the batch, and the number of symbols."""
    device = next(model.parameters()).device
    x, lengths, y, y_lengths = (t.to(device) for t in batch)
    log_probs, out_lengths = model(x, lengths)
    n = int(y_lengths.sum())
    return summed_ctc(log_probs, out_lengths, y, y_lengths) / max(n, 1), n


def summed_ctc(log_probs: Tensor, out_lengths: Tensor, y: Tensor, y_lengths: Tensor) -> Tensor:
    """The CTC loss of ``log_probs (B, T', V)`` against the concatenated targets ``y``, summed over the batch."""
    return F.ctc_loss(log_probs.transpose(0, 1), y.to(log_probs.device), out_lengths, y_lengths.to(log_probs.device),
                      blank=0, reduction="sum", zero_infinity=True)  # too short for its transcript: 0, not inf


def _by_length(items: list[Item], size: int) -> Iterator[list[int]]:
    """Indices of ``items`` in batches of similar length (less padding), each batch in order."""
    order = sorted(range(len(items)), key=lambda i: items[i].feats.shape[0])
    for i in range(0, len(order), size):
        yield order[i : i + size]


@torch.no_grad()
def recognise(model: SpeechRecognizer, items: list[Item], symbols: str, beam_size: int = 1, batch_size: int = 64
              ) -> tuple[list[str], float, int]:
    """``(texts, summed CTC loss, transcript symbols)`` of ``items`` (model in eval mode); beam 1: greedy."""
    from rnnkit.models.ctc import batch_decode

    texts: list[str] = [""] * len(items)
    total, count = 0.0, 0
    device = next(model.parameters()).device
    for idx in _by_length(items, batch_size):
        x, lengths, y, y_lengths = collate([items[i] for i in idx], symbols, leads(model))
        log_probs, out_lengths = model(x.to(device), lengths)
        loss = summed_ctc(log_probs, out_lengths, y, y_lengths)
        total, count = total + float(loss), count + int(y_lengths.sum())
        for i, hyp in zip(idx, batch_decode(log_probs.cpu(), out_lengths.cpu(), beam_size)):
            texts[i] = decode_ids([s for s, _ in hyp], symbols)
    return texts, total, count


class ASRTask(StatelessTask):
    """Speech recognition as a Trainer task (see the module docstring)."""

    unit = "utt"
    loss_label = "CTC loss (nats per transcript symbol)"
    scores = ("wacc",)  # word accuracy 1 - WER of greedy decoding on validation
    default_select = "wacc"
    fractions = ("wer", "cer", "wacc", "wer_greedy", "cer_greedy")

    def __init__(self, corpus: Corpus, cfg: ASRDataConfig, seed: int = 0,
                 dist: distributed.DistInfo | None = None) -> None:
        dist = dist or distributed.current()
        if cfg.batch_size % dist.world_size:
            raise RnnkitError(f"--batch-size {cfg.batch_size} must be divisible by the {dist.world_size} processes")
        self.corpus, self.cfg, self.seed, self.dist = corpus, cfg, seed, dist
        self._epoch, self._items = -2, []
        self.lead = False  # set to leads(model) before training
        if not cfg.transcripts and cfg.protocol.startswith("speaker:") and cfg.valid_speaker == "none":
            # validation voices are training voices: they can't tell which checkpoint hears a new voice best
            self.default_select = "last"

    def _size(self) -> int:
        return len(self.corpus.user_train) if self.corpus.user_train is not None else self.cfg.train_size

    def num_batches(self) -> int:
        return -(-self._size() // self.cfg.batch_size)

    def batches(self, epoch: int, start: int) -> Iterator[tuple[Tensor, Tensor, Tensor, Tensor]]:
        if epoch != self._epoch:
            self._items, self._epoch = self.corpus.train_items(epoch, self.seed), epoch
        B, rows, r = self.cfg.batch_size, self.cfg.batch_size // self.dist.world_size, self.dist.rank
        for i in range(start, self.num_batches()):
            lo = i * B + r * rows
            chunk = self._items[lo : lo + rows] or self._items[:rows]  # DDP: every rank steps
            yield collate(chunk, self.corpus.symbols, self.lead)

    def train_step(self, model: nn.Module, batch: tuple[Tensor, Tensor, Tensor, Tensor]) -> tuple[Tensor, int]:
        return ctc_loss(model, batch)

    def score(self, model: nn.Module, items: list[Item], beam_size: int = 1) -> tuple[dict[str, float], list[str]]:
        from rnnkit.metrics.speech import cer, wer

        hyps, total, count = recognise(model, items, self.corpus.symbols, beam_size, self.cfg.eval_batch_size)
        refs = [it.text for it in items]
        w = wer(refs, hyps)
        return {"loss": total / max(count, 1), "wer": w, "cer": cer(refs, hyps), "wacc": 1 - w}, hyps

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return self.score(model, self.corpus.valid)[0]


# ---------------------------------------------------------------------------------------------- training

def train(run_dir: Path, configs: dict[str, Any], resume: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Train into ``run_dir``; returns the Trainer's summary with the test metrics of the best model."""
    data, audio_cfg, decode_cfg, train_cfg = configs["data"], configs["audio"], configs["decode"], configs["train"]
    check_data(data, audio_cfg)
    decode_cfg.validate()
    with runs.training(run_dir, train_cfg) as dist:
        return _train(run_dir, data, audio_cfg, configs["model"], decode_cfg, train_cfg, dist, resume, quiet)


def _train(run_dir: Path, data: ASRDataConfig, audio_cfg: audio.AudioConfig, model_cfg: RecognizerConfig,
           decode_cfg: CTCDecodeConfig, train_cfg: TrainConfig, dist: distributed.DistInfo, resume: bool,
           quiet: bool) -> dict[str, Any]:
    say = (lambda *a: None) if quiet or not dist.is_main else (lambda *a: print(*a, file=sys.stderr))
    corpus = Corpus(data, audio_cfg, say)
    task = ASRTask(corpus, data, train_cfg.seed, dist)
    model_cfg = dataclasses.replace(model_cfg, input_size=audio_cfg.size, vocab_size=len(corpus.symbols) + 1)
    torch.manual_seed(train_cfg.seed)
    try:
        model = SpeechRecognizer(model_cfg)
    except (ValueError, TypeError) as e:
        raise RnnkitError(f"model options: {cfgmod.as_flags(str(e), RecognizerConfig)}") from None
    model.set_normalisation(*corpus.statistics())
    task.lead = leads(model)
    resolved = {"task": TASK, "symbols": corpus.symbols,
                **{name: cfgmod.to_dict(c) for name, c in (("data", data), ("audio", audio_cfg), ("model", model_cfg),
                                                             ("decode", decode_cfg), ("train", train_cfg))}}
    if dist.is_main:
        runs.write_config(run_dir, resolved)
    way = "bidirectional" if model_cfg.bidirectional else "unidirectional (streamable)"
    say(f"run {run_dir}: {model_cfg.num_layers} x {model_cfg.hidden_size} {way} {model_cfg.cell.upper()}, "
        f"{model_cfg.stack} frames per step, {len(corpus.symbols)} symbols + blank, "
        f"{sum(p.numel() for p in model.parameters()):,} parameters")
    meta = {"task": TASK, "config": resolved, "title": f"asr: {model_cfg.cell.upper()} ({run_dir.name})"}
    trainer, summary = runs.fit(model, task, train_cfg, run_dir, meta, resume)
    model.load_state_dict(runs.load_checkpoint(run_dir, TASK)[1]["model"])  # a corrupt best.pt: last.pt
    model.eval()
    test = test_report(run_dir, model, corpus, decode_cfg, data.eval_batch_size, say if dist.is_main else None)
    summary["test"] = test
    trainer.log.write({"step": trainer.step, "split": "test", **{k: v for k, v in test.items()
                                                                 if isinstance(v, (int, float))}})
    return summary


def test_report(run_dir: Path, model: SpeechRecognizer, corpus: Corpus, decode_cfg: CTCDecodeConfig,
                batch_size: int, say: Callable[..., None] | None) -> dict[str, Any]:
    """Score the test utterances (beam and greedy), write ``test.tsv``, ``confusion.md``, ``alignment.png``
    and ``test.json``; for a unidirectional model also stream them and compare."""
    from rnnkit.metrics.speech import confusion, format_confusion, per_group
    from rnnkit.outputs import write_atomic

    items = corpus.test
    if not items:
        return {}
    refs = [it.text for it in items]
    greedy, total, count = recognise(model, items, corpus.symbols, 1, batch_size)
    beam = greedy if decode_cfg.beam_size == 1 else \
        recognise(model, items, corpus.symbols, decode_cfg.beam_size, batch_size)[0]
    groups = per_group(refs, beam, [it.speaker for it in items])
    greedy_all = per_group(refs, greedy, [it.speaker for it in items])["all"]
    test: dict[str, Any] = {"loss": total / max(count, 1), "wer": groups["all"]["wer"], "cer": groups["all"]["cer"],
                            "wer_greedy": greedy_all["wer"], "cer_greedy": greedy_all["cer"],
                            "beam_size": decode_cfg.beam_size, "utterances": len(items)}
    test["speakers"] = {k: {"wer": v["wer"], "cer": v["cer"]} for k, v in groups.items() if k != "all"}
    write_atomic(run_dir / "test.tsv", "speaker\treference\tgreedy\tbeam\n" + "".join(
        f"{it.speaker}\t{it.text}\t{g}\t{b}\n" for it, g, b in zip(items, greedy, beam)))
    labels = sorted({w for t in refs for w in t.split()}, key=lambda w: (len(w), w))
    write_atomic(run_dir / "confusion.md", format_confusion(confusion(refs, beam), labels) + "\n")
    if not model.config.bidirectional and items[0].samples is not None:
        test["stream"] = stream_check(model, corpus, items[:100], decode_cfg.chunk_ms, greedy[:100])
    with torch.no_grad():
        plot_alignment(run_dir / "alignment.png", model, items[0], corpus.symbols, corpus.fx.cfg.hop_ms / 1000)
    write_atomic(run_dir / "test.json", json.dumps(test, indent=2) + "\n")
    if say:
        say("test (best model): " + show_all({k: v for k, v in test.items() if isinstance(v, float)},
                                              ASRTask.fractions) + f" (beam {decode_cfg.beam_size})")
        say("  per speaker WER: " + ", ".join(f"{k} {100 * v['wer']:.2f}%" for k, v in test["speakers"].items()))
        if "stream" in test:
            s = test["stream"]
            say(f"  streamed in {decode_cfg.chunk_ms:g} ms chunks: {s['identical']}/{s['utterances']} identical to "
                f"offline, real-time factor {s['rtf']:.4f}, latency after a digit's end median "
                f"{s['latency_median_ms']:.0f} ms")
        for it, g, b in list(zip(items, greedy, beam))[:5]:
            say(f"  {it.speaker}: reference {it.text!r} | beam {b!r} | greedy {g!r}")
        say(f"  written: {run_dir / 'test.tsv'}, confusion.md, alignment.png, test.json")
    return test


# ---------------------------------------------------------------------------------------------- streaming

@dataclasses.dataclass
class Emission:
    symbol: str
    time: float  # seconds from the start of the audio: the end of the step that emitted it


class Transcriber:
    """Streaming transcription with a unidirectional run: ``push(samples)`` -> new :class:`Emission`\\ s,
    ``finish()`` -> the rest. Greedy CTC decoding, incremental: a symbol is emitted on the first frame
    where it is the best path's choice after a blank or another symbol, exactly as offline."""

    def __init__(self, model: SpeechRecognizer, audio_cfg: audio.AudioConfig, symbols: str) -> None:
        from rnnkit.data.speech_audio import StreamingFeatures

        self.features = StreamingFeatures(audio.FeatureExtractor(audio_cfg))
        self.stream = model.stream()
        self.symbols, self.prev, self.step = symbols, 0, 0
        self.seconds = model.config.stack * audio_cfg.hop_ms / 1000
        self.lookahead = model.lookahead

    def _emit(self, log_probs: Tensor, final: bool = False) -> list[Emission]:
        out = []
        for s in log_probs.argmax(-1).tolist():
            if s != 0 and s != self.prev:
                # a step is known once the step `lookahead` later has been heard (or the audio ended)
                known = self.step + 1 + self.lookahead
                out.append(Emission(self.symbols[s - 1], min(known, self.stream.steps) * self.seconds
                                    if final else known * self.seconds))
            self.prev, self.step = s, self.step + 1
        return out

    def push(self, samples: Tensor) -> list[Emission]:
        return self._emit(self.stream.push(self.features.push(samples)))

    def finish(self) -> list[Emission]:
        out = self._emit(self.stream.push(self.features.finish()))
        return out + self._emit(self.stream.finish(), final=True)


def emissions_text(emissions: list[Emission]) -> str:
    return " ".join("".join(e.symbol for e in emissions).split())


def stream_file(model: SpeechRecognizer, audio_cfg: audio.AudioConfig, symbols: str, samples: Tensor,
                chunk_ms: float, on_emit: Callable[[list[Emission]], None] | None = None) -> list[Emission]:
    """Transcribe ``samples`` as a stream of ``chunk_ms`` chunks; ``on_emit`` sees each chunk's emissions."""
    t = Transcriber(model, audio_cfg, symbols)
    n = max(1, round(audio_cfg.sample_rate * chunk_ms / 1000))
    out = []
    for i in range(0, samples.shape[0], n):
        got = t.push(samples[i : i + n])
        out += got
        if on_emit and got:
            on_emit(got)
    got = t.finish()
    if on_emit and got:
        on_emit(got)
    return out + got


def stream_check(model: SpeechRecognizer, corpus: Corpus, items: list[Item], chunk_ms: float,
                 offline: list[str]) -> dict[str, Any]:
    """Stream ``items`` and compare with their offline greedy texts; real-time factor (processing time / audio
    time) and the latency from each correctly emitted digit's end to its emission (ms, negative: before)."""
    audio_cfg = corpus.fx.cfg
    same, busy, dur, lat = 0, 0.0, 0.0, []
    with torch.no_grad():
        for it, off in zip(items, offline):
            assert it.samples is not None
            t0 = time.perf_counter()
            em = stream_file(model, audio_cfg, corpus.symbols, it.samples, chunk_ms)
            busy += time.perf_counter() - t0
            dur += it.samples.shape[0] / audio_cfg.sample_rate
            text = emissions_text(em)
            same += text == off
            digits = [e for e in em if e.symbol != " "]
            if text == it.text and len(digits) == len(it.ends):
                # a chunk is processed once it has all arrived: emission no earlier than its chunk's end
                chunk = chunk_ms / 1000
                lat += [1000 * (math.ceil(e.time / chunk) * chunk - end) for e, end in zip(digits, it.ends)]
    lat.sort()
    return {"utterances": len(items), "identical": same, "rtf": busy / max(dur, 1e-9),
            "latency_median_ms": lat[len(lat) // 2] if lat else float("nan"),
            "latency_p90_ms": lat[int(0.9 * (len(lat) - 1))] if lat else float("nan")}


# ---------------------------------------------------------------------------------------------- plots

def plot_alignment(path: Path, model: SpeechRecognizer, item: Item, symbols: str, hop: float) -> None:
    """The utterance's log-mel spectrogram above the CTC posteriors of every symbol over time (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnnkit.outputs import atomic_path

    log_probs, _ = model(item.feats.unsqueeze(0), torch.tensor([item.feats.shape[0]]))
    post = log_probs[0].exp().T.numpy()  # (V, T')
    fig, (a, b) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
    k = model.config.stack
    T = item.feats.shape[0]
    a.imshow(item.feats.T.numpy(), origin="lower", aspect="auto", extent=(0, T * hop, 0, item.feats.shape[1]))
    a.set_ylabel("log-mel channel")
    a.set_title(f"reference {item.text!r}")
    x = [(j + 0.5) * k * hop for j in range(post.shape[1])]
    b.plot(x, post[0], color="0.7", lw=1, label="blank")
    for s in range(1, post.shape[0]):
        if post[s].max() > 0.1:
            name = "space" if symbols[s - 1] == " " else symbols[s - 1]
            b.plot(x, post[s], lw=1.5, label=name)
    b.set_xlabel("time (s)")
    b.set_ylabel("posterior")
    b.legend(ncol=6, fontsize=8, loc="upper right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- inference

def load_run(run: str | Path, device: str = "cpu") -> tuple[SpeechRecognizer, dict[str, Any], Path]:
    """``(model in eval mode, resolved config, checkpoint path)`` of a trained speech recognition run."""
    from rnnkit.training.trainer import resolve_device

    dev = resolve_device(device)
    path, ckpt = runs.load_checkpoint(run, TASK)
    try:
        conf = ckpt["config"]
        model_conf = dict(conf["model"])
        if "lookahead" not in model_conf:  # saved before the lookahead and running normalisation existed
            model_conf["lookahead"] = 0
            if model_conf.get("normalise", "auto") == "auto" and not model_conf.get("bidirectional", True):
                model_conf["normalise"] = "global"  # what auto meant for a unidirectional model then
        model = SpeechRecognizer(cfgmod.build(RecognizerConfig, model_conf, f"{path} (model config)",
                                              internal=True))
        model.load_state_dict(ckpt["model"])
        if not isinstance(conf.get("symbols"), str):
            raise KeyError("symbols")
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise RnnkitError(f"checkpoint {path} lacks a valid model ({str(e).splitlines()[0]})") from None
    return model.to(dev).eval(), conf, path


def load_for_inference(run: str | Path, device: str = "cpu", decode_flags: dict[str, Any] | None = None
                       ) -> tuple[SpeechRecognizer, dict[str, Any], Path, audio.AudioConfig, CTCDecodeConfig]:
    """:func:`load_run` plus the run's audio config and its decoding options with ``decode_flags`` over them."""
    model, conf, path = load_run(run, device)
    flags = decode_flags or {}
    decode_cfg = cfgmod.build(CTCDecodeConfig, {**conf.get("decode", {}), **flags}, f"{path} (decoding options)",
                              flagged=flags)
    decode_cfg.validate()
    audio_cfg = cfgmod.build(SpeechAudioConfig, conf.get("audio", {}), f"{path} (audio config)", internal=True)
    return model, conf, path, audio_cfg, decode_cfg


def audio_inputs(inputs: list[str]) -> list[tuple[str, bytes]]:
    """``(name, bytes)`` of every WAV named: files, folders (every ``.wav`` in them) or archives; every input
    is read before any is transcribed, so a bad one is an error before output starts."""
    out = []
    for p in inputs:
        out += list(audio.wav_files(p))
    return out


def transcribe(run: str | Path, inputs: list[str], decode_flags: dict[str, Any] | None = None, stream: bool = False,
               device: str = "cpu") -> Iterator[dict[str, Any]]:
    """``{"file", "text", "tokens": [{"symbol", "time"}], "seconds"}`` per recording, by the run's best model.
    Recordings at another sample rate are resampled, several channels mixed down. ``stream``: through the
    streaming transcriber (unidirectional runs), chunk by chunk, as a live input would be."""
    from rnnkit.data.speech_audio import load_recording
    from rnnkit.models.ctc import batch_decode

    files = audio_inputs(inputs)
    model, conf, path, audio_cfg, decode_cfg = load_for_inference(run, device, decode_flags)
    if stream and model.config.bidirectional:
        raise RnnkitError(f"{path}: a bidirectional model needs whole recordings; --stream needs a run trained with "
                          f"--no-bidirectional")
    symbols, fx = conf["symbols"], audio.FeatureExtractor(audio_cfg)
    recordings = [(name, load_recording(raw, name, audio_cfg.sample_rate)) for name, raw in files]
    step = model.config.stack * audio_cfg.hop_ms / 1000
    with torch.no_grad():
        for name, x in recordings:
            if stream:
                em = stream_file(model, audio_cfg, symbols, x, decode_cfg.chunk_ms)
                tokens = [{"symbol": e.symbol, "time": round(e.time, 3)} for e in em if e.symbol != " "]
                text = emissions_text(em)
            else:
                feats = fx(x)
                log_probs, lengths = model(feats.unsqueeze(0), torch.tensor([feats.shape[0]]))
                hyp = batch_decode(log_probs.cpu(), lengths.cpu(), decode_cfg.beam_size)[0]
                text = decode_ids([s for s, _ in hyp], symbols)
                tokens = [{"symbol": symbols[s - 1], "time": round((f + 1) * step, 3)}
                          for s, f in hyp if symbols[s - 1] != " "]
            seconds = round(x.shape[0] / audio_cfg.sample_rate, 3)
            yield {"file": name, "text": text, "tokens": tokens, "seconds": seconds}


def transcribe_stdin(run: str | Path, source: Any, write: Callable[[str], None] | None, rate: int | None = None,
                     decode_flags: dict[str, Any] | None = None, device: str = "cpu") -> str:
    """Live transcription of raw 16-bit little-endian mono PCM read from ``source`` (a binary file, e.g. stdin)
    in the run's chunks; each emitted symbol is written at once. ``rate``: the PCM's sample rate (default:
    the run's); another rate is resampled chunk by chunk. Returns the text."""
    from rnnkit.data.speech_audio import resample

    model, conf, path, audio_cfg, decode_cfg = load_for_inference(run, device, decode_flags)
    if model.config.bidirectional:
        raise RnnkitError(f"{path}: a bidirectional model needs whole recordings; live audio needs a run trained with "
                          f"--no-bidirectional")
    rate = rate or audio_cfg.sample_rate
    write = write or (lambda text: None)
    t = Transcriber(model, audio_cfg, conf["symbols"])
    n_bytes = 2 * max(1, round(rate * decode_cfg.chunk_ms / 1000))
    emitted: list[Emission] = []
    carry, total = b"", 0
    with torch.no_grad():
        while True:
            chunk = source.read(n_bytes)
            if not chunk:
                break
            chunk, total = carry + chunk, total + len(chunk)
            even = len(chunk) // 2 * 2
            chunk, carry = chunk[:even], chunk[even:]
            x = torch.frombuffer(bytearray(chunk), dtype=torch.int16).float() / 32768
            if rate != audio_cfg.sample_rate:
                x = resample(x, rate, audio_cfg.sample_rate)
            got = t.push(x)
            emitted += got
            if got:
                write("".join(e.symbol for e in got))
        if total == 0:
            raise RnnkitError("stdin: no audio (expected raw 16-bit little-endian mono PCM)")
        got = t.finish()
        emitted += got
        if got:
            write("".join(e.symbol for e in got))
    return emissions_text(emitted)


def evaluate_file(run: str | Path, data: str, recordings: str | None = None, batch_size: int | None = None,
                  device: str = "cpu") -> dict[str, Any]:
    """``rnnkit evaluate`` of an asr run on a ``file<TAB>text`` transcript: WER and CER of beam search (the run's
    width) and greedy decoding, and the CTC loss per symbol; files are read relative to the TSV (or from
    ``recordings``)."""
    from rnnkit.data.speech_audio import load_recording
    from rnnkit.metrics.speech import cer, wer

    if Path(data).is_dir() or Path(data).suffix.lower() in (".wav", ".tar", ".xz", ".gz", ".tgz"):
        raise RnnkitError(f"{data}: rnnkit evaluate scores an asr run on a file<TAB>text transcript of recordings "
                          f"(the files relative to it), not on the recordings themselves")
    model, conf, path, audio_cfg, decode_cfg = load_for_inference(run, device)
    symbols, fx = conf["symbols"], audio.FeatureExtractor(audio_cfg)
    pairs = spoken_digits.read_transcripts(data, recordings)
    names = dict(audio.wav_files(recordings)) if recordings and not Path(recordings).is_dir() else None
    items = []
    for i, (name, text) in enumerate(pairs, 1):
        encode(text, symbols, f"{data}: transcript {i} ({name})")
        raw = names.get(f"{recordings}:{name}") if names is not None else Path(name).read_bytes()
        if raw is None:
            raise RnnkitError(f"{data}: {name} is not in {recordings}")
        items.append(Item(fx(load_recording(raw, name, audio_cfg.sample_rate)), text, "-", []))
    bs = batch_size or int(conf.get("data", {}).get("eval_batch_size", 64))
    greedy, total, count = recognise(model, items, symbols, 1, bs)
    beam = recognise(model, items, symbols, decode_cfg.beam_size, bs)[0] if decode_cfg.beam_size > 1 else greedy
    refs = [it.text for it in items]
    return {"data": data, "checkpoint": str(path), "recordings": len(items), "loss": total / max(count, 1),
            "wer": wer(refs, beam), "cer": cer(refs, beam), "wer_greedy": wer(refs, greedy),
            "cer_greedy": cer(refs, greedy), "beam_size": decode_cfg.beam_size}
