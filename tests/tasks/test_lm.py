"""`rnnkit train lm`, `sample`, `evaluate` end to end, and their errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from rnnkit.cli import main
from rnnkit.data import Vocab
from rnnkit.models import LanguageModel, LMConfig
from rnnkit.tasks.demo import corpus_text
from rnnkit.tasks.lm import stream_nll

TEXT = corpus_text()
SMALL = ["--hidden-size", "16", "--embed-size", "8", "--num-layers", "1", "--dropout", "0", "--batch-size", "4",
         "--bptt", "16", "--eval-batch-size", "4", "--no-progress", "--log-every", "5"]


@pytest.fixture
def texts(tmp_path: Path) -> tuple[Path, Path]:
    train, valid = tmp_path / "train.txt", tmp_path / "valid.txt"
    train.write_text(TEXT[:4000], encoding="utf-8")
    valid.write_text(TEXT[4000:4600], encoding="utf-8")
    return train, valid


def train_run(run: Path, train: Path, valid: Path, *extra: str) -> int:
    return main(["train", "lm", "--data", str(train), "--valid", str(valid), "--out", str(run), *SMALL,
                 "--max-steps", "20", "--eval-every", "10", *extra])


def test_train_sample_evaluate(tmp_path: Path, texts, capsys):
    train, valid = texts
    run = tmp_path / "run"
    assert train_run(run, train, valid) == 0
    assert {"config.json", "metrics.jsonl", "curves.png", "best.pt", "last.pt"} <= {p.name for p in run.iterdir()}
    conf = json.loads((run / "config.json").read_text())
    assert conf["task"] == "lm" and conf["model"]["vocab_size"] > 10 and conf["data"]["bptt"] == 16
    capsys.readouterr()

    assert main(["sample", str(run), "--prime", "The ", "--length", "60", "--seed", "1"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("The ") and len(first) == 4 + 60 + 1
    main(["sample", str(run), "--prime", "The ", "--length", "60", "--seed", "1"])
    assert capsys.readouterr().out == first
    main(["sample", str(run), "--length", "30", "--greedy"])
    greedy = capsys.readouterr().out
    main(["sample", str(run), "--length", "30", "--greedy", "--seed", "5"])
    assert capsys.readouterr().out == greedy

    assert main(["evaluate", str(run), "--data", str(valid), "--batch-size", "4", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    best = min(r["loss"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
               if r["split"] == "valid")
    assert res["loss"] == pytest.approx(best, rel=1e-5)  # the same number the Trainer logged
    assert res["tokens"] == 596 and res["bpc"] == pytest.approx(res["loss"] / 0.6931471805599453)


def test_resume_continues(tmp_path: Path, texts, capsys):
    train, valid = texts
    run = tmp_path / "run"
    train_run(run, train, valid)
    assert train_run(run, train, valid, "--resume", "--max-steps", "30") == 0
    err = capsys.readouterr().err
    assert "resumed from" in err and "at step 20" in err and "changed train options {'max_steps': 30}" in err
    assert torch.load(run / "last.pt", weights_only=True)["trainer"]["step"] == 30


def error_of(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # notes may come before the error line
    assert last.startswith("rnnkit: error: "), last
    return last


def test_run_directory_is_never_overwritten(tmp_path: Path, texts, capsys):
    train, valid = texts
    run = tmp_path / "run"
    train_run(run, train, valid)
    before = (run / "last.pt").read_bytes()
    capsys.readouterr()
    err = error_of(capsys, ["train", "lm", "--data", str(train), "--out", str(run), *SMALL])
    assert f"run directory {run} already holds a run" in err and "--resume" in err
    assert (run / "last.pt").read_bytes() == before
    err = error_of(capsys, ["train", "lm", "--data", str(train), "--out", str(tmp_path / "new"), "--resume"])
    assert "holds no run to continue" in err


def test_vocabulary_mismatch_on_resume(tmp_path: Path, texts, capsys):
    train, valid = texts
    run = tmp_path / "run"
    train_run(run, train, valid)
    other = tmp_path / "other.txt"
    other.write_text("completely different text with few letters\n" * 50)
    capsys.readouterr()
    err = error_of(capsys, ["train", "lm", "--out", str(run), "--resume", "--data", str(other)])
    assert "does not match the one in" in err and "same training text" in err


def test_bad_files(tmp_path: Path, texts, capsys):
    train, valid = texts
    run = tmp_path / "run"
    train_run(run, train, valid)
    capsys.readouterr()
    foreign = tmp_path / "foreign.txt"
    foreign.write_text("这是一个完全不同的语言的文本。" * 20, encoding="utf-8")
    assert "does not match the vocabulary" in error_of(capsys, ["evaluate", str(run), "--data", str(foreign)])
    binary = tmp_path / "data.bin"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    assert f"{binary} looks binary" in error_of(capsys, ["evaluate", str(run), "--data", str(binary)])
    assert "no such file" in error_of(capsys, ["train", "lm", "--data", str(tmp_path / "none.txt"),
                                               "--out", str(tmp_path / "r2")])
    assert "no training text" in error_of(capsys, ["train", "lm", "--out", str(tmp_path / "r3")])
    too_rare = error_of(capsys, ["train", "lm", "--data", str(train), "--level", "word", "--min-freq", "100000",
                                 "--out", str(tmp_path / "r4")])
    assert "--min-freq 100000 leaves" in too_rare and "lower --min-freq" in too_rare, too_rare
    assert "holds no checkpoint" in error_of(capsys, ["sample", str(tmp_path)])
    broken = tmp_path / "broken.pt"
    broken.write_bytes((run / "best.pt").read_bytes()[:3000])
    assert "truncated or corrupt" in error_of(capsys, ["sample", str(broken)])
    bad_temperature = error_of(capsys, ["sample", str(run), "--temperature", "0"])
    assert "temperature must be a finite number > 0, got 0.0" in bad_temperature
    recipe = tmp_path / "r.toml"
    recipe.write_text("[model]\nhiden_size = 3\n")
    assert "unknown key 'hiden_size'" in error_of(capsys, ["train", "lm", "--config", str(recipe),
                                                           "--out", str(tmp_path / "r4")])


@pytest.mark.parametrize("n,batch", [(305, 7), (301, 7), (50, 1)])
def test_stream_nll_scores_every_token_after_its_stream_start(n: int, batch: int):
    vocab = Vocab.build(TEXT[:2000], "char")
    ids = vocab.encode(TEXT[:n])[0]
    torch.manual_seed(0)
    m = LanguageModel(LMConfig(vocab_size=len(vocab), embed_size=8, hidden_size=16, num_layers=2,
                               dropout=0.0)).eval()
    total, count = stream_nll(m, ids, batch_size=batch, bptt=9)
    assert count == n - batch
    # by hand: each stream read whole in one call; the last one runs on to the end of the text
    L = n // batch
    ref = 0.0
    with torch.no_grad():
        for b in range(batch):
            seg = ids[b * L : (b + 1) * L] if b < batch - 1 else ids[b * L :]
            logits, _ = m(seg[:-1].unsqueeze(0))
            ref += float(F.cross_entropy(logits[0], seg[1:], reduction="sum"))
    assert total == pytest.approx(ref, rel=1e-5)


def test_word_level_with_test_split(tmp_path: Path, data_dir: Path, capsys):
    ptb = data_dir / "ptb"
    files = {}
    for split, n in (("train", 400), ("valid", 60), ("test", 60)):
        lines = (ptb / f"ptb.{split}.txt").read_text().splitlines()[:n]
        files[split] = tmp_path / f"{split}.txt"
        files[split].write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    assert main(["train", "lm", "--data", str(files["train"]), "--valid", str(files["valid"]), "--test",
                 str(files["test"]), "--level", "word", "--min-freq", "2", "--out", str(run), *SMALL,
                 "--max-steps", "10", "--eval-every", "10", "--optimizer", "sgd", "--lr", "1"]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    test = [r for r in records if r["split"] == "test"]
    assert len(test) == 1 and 1 < test[0]["ppl"] < 5000 and "bpc" not in test[0]
    assert "test (best model): loss" in capsys.readouterr().err
    main(["sample", str(run), "--prime", "the company", "--length", "12", "--seed", "0"])
    words = capsys.readouterr().out.split()
    assert words[:2] == ["the", "company"] and len(words) >= 2


def test_tinyshakespeare_slice(tmp_path: Path, data_dir: Path):
    text = (data_dir / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")[:20000]
    src = tmp_path / "input.txt"
    src.write_text(text, encoding="utf-8")
    run = tmp_path / "run"
    assert main(["train", "lm", "--data", str(src), "--out", str(run), *SMALL, "--max-steps", "40",
                 "--eval-every", "20", "--lr", "1e-2"]) == 0
    valid = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r["split"] == "valid"]
    assert valid[-1]["loss"] < valid[0]["loss"] < 4.2  # below the uniform 4.17 nats only after learning


def test_whole_lines_full_bptt(tmp_path: Path, data_dir: Path, capsys):
    names = sorted((data_dir / "names").rglob("*.txt"))[0]  # one name per line
    run = tmp_path / "run"
    assert main(["train", "lm", "--data", str(names), "--out", str(run), *SMALL, "--bptt", "0",  # the last wins
                 "--max-steps", "30", "--eval-every", "15", "--lr", "1e-2"]) == 0
    err = capsys.readouterr().err
    assert "whole lines (full BPTT)" in err
    valid = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r["split"] == "valid"]
    assert valid[-1]["loss"] < valid[0]["loss"]
    main(["sample", str(run), "--length", "40", "--seed", "0"])
    assert len(capsys.readouterr().out.strip()) > 0
    main(["evaluate", str(run), "--data", str(names), "--json"])
    res = json.loads(capsys.readouterr().out)
    lines = [ln for ln in names.read_text(encoding="utf-8").splitlines() if ln]
    assert res["tokens"] == sum(len(ln) + 1 for ln in lines)  # every character and each line's end


@pytest.mark.parametrize("flag,value,match", [
    ("--batch-size", "0", "--batch-size must be >= 1"),
    ("--bptt", "-1", "--bptt must be >= 1 \\(truncated BPTT\\), or 0"),
    ("--hidden-size", "0", "model options: .*--hidden-size must be >= 1, got 0"),
    ("--dropout", "1.5", "model options: .*--dropout must be in"),
    ("--lr", "-1", "--lr must be a finite number >= 0"),
    ("--max-steps", "-5", "--max-steps must be >= 0, got -5"),
    ("--epochs", "0", "--epochs must be >= 1"),
    ("--log-every", "0", "--log-every must be >= 1"),
    ("--lr-decay", "0", "--lr-decay must be in"),
    ("--min-lr", "2", "--min-lr is a fraction of --lr"),
    ("--clip-norm", "-1", "--clip-norm must be a finite number"),
    ("--precision", "fp16", "--precision fp16 needs a CUDA device"),
    ("--device", "gpu", "unknown device 'gpu'"),
    ("--zoneout", "1", r"model options: .*--zoneout must be a number in \[0, 1\), got 1"),
    ("--recurrent-dropout", "-0.5", r"model options: .*--recurrent-dropout must be a number in \[0, 1\)"),
])
def test_bad_option_values(tmp_path: Path, texts, capsys, flag, value, match):
    train, valid = texts
    err = error_of(capsys, ["train", "lm", "--data", str(train), "--out", str(tmp_path / "r"), *SMALL, flag, value])
    assert re.search(match, err), err


def test_run_directory_lock_and_unstarted_runs(tmp_path: Path, texts, capsys):
    import subprocess
    import sys

    train, valid = texts
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / ".lock").write_text(f"{holder.pid}\n")
        err = error_of(capsys, ["train", "lm", "--data", str(train), "--out", str(run), *SMALL])
        assert f"is in use by process {holder.pid}" in err
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone: its lock is stale and a new run starts there (and releases the lock at the end)
    assert train_run(run, train, valid) == 0 and not (run / ".lock").exists()

    # a run stopped before its first checkpoint: it can't be resumed, but may start again
    early = tmp_path / "early"
    early.mkdir()
    (early / "config.json").write_text("{}")
    (early / "metrics.jsonl").write_text('{"step": 1, "split": "train", "loss": 3.0}\n')
    err = error_of(capsys, ["train", "lm", "--data", str(train), "--out", str(early), "--resume"])
    assert "stopped before the first checkpoint" in err
    assert train_run(early, train, valid) == 0
    assert "stopped before its first checkpoint; starting it afresh" in capsys.readouterr().err
    steps = [json.loads(r)["step"] for r in (early / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps)  # the old record is gone
    # a user's own files are never cleared, and a file is not a run directory
    own = tmp_path / "own"
    own.mkdir()
    (own / "corpus.txt").write_text("mine")
    assert "already holds other files" in error_of(capsys, ["train", "lm", "--data", str(train), "--out", str(own)])
    assert (own / "corpus.txt").read_text() == "mine"
    assert "is a file, not a run directory" in error_of(capsys, ["train", "lm", "--data", str(train),
                                                                 "--out", str(train)])


@pytest.mark.parametrize("limit", [["--max-steps", "20"], ["--epochs", "1", "--max-steps", "0"]])
def test_resuming_a_finished_run_does_nothing_more(tmp_path: Path, texts, capsys, limit):
    train, valid = texts
    run = tmp_path / "run"
    assert train_run(run, train, valid, *limit) == 0
    before = (run / "metrics.jsonl").read_text()
    step = torch.load(run / "last.pt", weights_only=True)["trainer"]["step"]
    assert train_run(run, train, valid, *limit, "--resume") == 0
    assert torch.load(run / "last.pt", weights_only=True)["trainer"]["step"] == step
    assert (run / "metrics.jsonl").read_text() == before  # no extra step, no second evaluation


def test_a_bad_test_file_fails_before_training(tmp_path: Path, texts, capsys):
    train, valid = texts
    run = tmp_path / "run"
    binary = tmp_path / "test.bin"
    binary.write_bytes(b"\x00\x01" * 50)
    assert "looks binary" in error_of(capsys, ["train", "lm", "--data", str(train), "--out", str(run),
                                               "--test", str(binary), *SMALL])
    assert not (run / "last.pt").exists()


def test_sample_and_evaluate_options(tmp_path: Path, texts, capsys):
    train, valid = texts
    run = tmp_path / "run"
    train_run(run, train, valid)
    capsys.readouterr()
    assert "unknown device 'gpu'" in error_of(capsys, ["sample", str(run), "--device", "gpu"])
    assert "--top-p must be in (0, 1]" in error_of(capsys, ["sample", str(run), "--top-p", "2"])
    assert "--batch-size must be >= 1" in error_of(capsys, ["evaluate", str(run), "--data", str(valid),
                                                            "--batch-size", "0"])
    assert "--bptt must be >= 1" in error_of(capsys, ["evaluate", str(run), "--data", str(valid), "--bptt", "-3"])
    # a truncated best.pt: the run's last.pt is used instead, with a warning
    (run / "best.pt").write_bytes((run / "best.pt").read_bytes()[:2000])
    assert main(["evaluate", str(run), "--data", str(valid), "--json"]) == 0
    captured = capsys.readouterr()
    assert "using" in captured.err and json.loads(captured.out)["checkpoint"].endswith("last.pt")


def test_recipe_keys_are_checked_by_table(tmp_path: Path, texts, capsys):
    train, _ = texts
    recipe = tmp_path / "r.toml"
    recipe.write_text("[model]\nvocab_size = 30\n")
    err = error_of(capsys, ["train", "lm", "--config", str(recipe), "--data", str(train), "--out", str(tmp_path / "r")])
    assert "unknown key 'vocab_size' in [model]" in err


def test_progress_lines_in_a_log_file(tmp_path: Path, texts, capsys, monkeypatch):
    from rnnkit.training import trainer

    monkeypatch.setattr(trainer, "PLAIN_EVERY", 0.0)
    train, valid = texts
    main(["train", "lm", "--data", str(train), "--valid", str(valid), "--out", str(tmp_path / "r"),
          *[a for a in SMALL if a != "--no-progress"], "--max-steps", "10", "--eval-every", "10"])
    err = capsys.readouterr().err  # not a terminal here: plain lines, no bar
    assert re.search(r"step 6/10 \| epoch 0\.\d\d \| loss [\d.]+ \| ppl .* \| tok/s", err) and "\r" not in err
    assert re.search(r"step 10 \| epoch \d\.\d\d \| valid loss", err)


def test_sampling_a_line_model_starts_every_line_from_a_fresh_state():
    # a --bptt 0 model read every training line from a zero state after a separator: sampling must too,
    # or the lines after the first continue the previous one's state and come out as fragments
    from rnnkit.models.sampling import SampleConfig
    from rnnkit.tasks.lm import generate_text

    vocab = Vocab.build("ab\nba\n", "char")
    torch.manual_seed(0)
    model = LanguageModel(LMConfig(cell="gru", embed_size=4, hidden_size=8, num_layers=1, dropout=0.0,
                                   vocab_size=len(vocab))).eval()
    calls: list[tuple[list[int], bool]] = []
    forward = model.forward

    def spy(x, state=None, lengths=None):
        calls.append((x[0].tolist(), state is None))
        return forward(x, state, lengths)

    model.forward = spy  # type: ignore[method-assign]
    # make the separator the likeliest token, so several lines are sampled
    with torch.no_grad():
        model.out.bias.zero_()
        model.out.bias[vocab.sep] = 5.0
    text = "".join(generate_text(model, vocab, "a", 6, SampleConfig(greedy=True), seed=0, lines=True))
    assert text.count("\n") >= 2
    assert calls[0] == ([vocab.sep, vocab.stoi["a"]], True)  # the prime starts a line, as training lines did
    for x, fresh in calls[1:]:  # a sampled end of line is read from a fresh state, as it began every training line
        assert fresh == (x == [vocab.sep])


def test_resume_from_another_directory(tmp_path: Path, texts, monkeypatch, capsys):
    # config.json keeps the data paths absolute: --resume works from any directory
    monkeypatch.chdir(tmp_path)
    assert train_run(Path("runs/a"), Path("train.txt"), Path("valid.txt")) == 0
    saved = json.loads((tmp_path / "runs/a/config.json").read_text())["data"]
    assert (saved["data"], saved["valid"]) == (str(tmp_path / "train.txt"), str(tmp_path / "valid.txt"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    run = tmp_path / "runs/a"
    assert main(["train", "lm", "--out", str(run), "--resume", "--max-steps", "30"]) == 0
    assert "changed data options" not in capsys.readouterr().err
    # an older run's relative paths: relative to the current directory as before, else to the run directory
    conf = json.loads((run / "config.json").read_text())
    conf["data"].update(data="../../train.txt", valid="../../valid.txt")
    (run / "config.json").write_text(json.dumps(conf))
    assert main(["train", "lm", "--out", str(run), "--resume", "--max-steps", "40"]) == 0


def test_layer_norm_cell_and_regularisers_train_sample_and_refuse_export(tmp_path: Path, texts, capsys):
    train, valid = texts
    run = tmp_path / "ln"
    assert train_run(run, train, valid, "--cell", "lnlstm", "--recurrent-dropout", "0.2", "--zoneout", "0.1",
                     "--weight-drop", "0.3") == 0
    conf = json.loads((run / "config.json").read_text())["model"]
    assert (conf["cell"], conf["recurrent_dropout"], conf["zoneout"], conf["weight_drop"]) == ("lnlstm", 0.2, 0.1, 0.3)
    model = torch.load(run / "best.pt", weights_only=False)["model"]
    assert any(k.startswith("rnn.cells.0.ln_c_weight") for k in model)
    capsys.readouterr()
    assert main(["sample", str(run), "--prime", "The ", "--length", "20", "--seed", "1"]) == 0
    assert len(capsys.readouterr().out) >= 20
    err = error_of(capsys, ["export", str(run), "--format", "onnx", "--out", str(tmp_path / "m.onnx")])
    assert "LayerNormLSTM, which has no ONNX/torch.export form" in err


@pytest.mark.parametrize("cell, param", [("peephole", "weight_ch"), ("indrnn", "weight_hh")])
def test_peephole_and_indrnn_cells_train_and_sample(tmp_path: Path, texts, capsys, cell, param):
    train, valid = texts
    run = tmp_path / cell
    assert train_run(run, train, valid, "--cell", cell) == 0
    model = torch.load(run / "best.pt", weights_only=False)["model"]
    assert any(k == f"rnn.cells.0.{param}" for k in model)
    capsys.readouterr()
    assert main(["sample", str(run), "--prime", "The ", "--length", "20", "--seed", "1"]) == 0
    assert len(capsys.readouterr().out) >= 20
