"""rnnkit train music / compose / evaluate on a handful of tunes, in seconds; bad inputs."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from rnnkit.cli import main

from .test_corpus import _folder

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("music")
    tunes = _folder(tmp, 40)
    out = tmp / "run"
    assert main(["train", "music", "--corpus", str(tunes), "--out", str(out), "--batch-size", "4",
                 "--hidden-size", "16", "--embed-size", "8", "--cond-size", "4", "--num-layers", "1",
                 "--max-steps", "6", "--eval-every", "3", "--eval-samples", "6", "--max-orders", "2",
                 "--no-progress", "--threads", "1", "--lr", "0.01"]) == 0
    return out


def test_training_writes_the_run_and_the_evaluation(run: Path):
    assert (run / "best.pt").is_file() and (run / "last.pt").is_file()
    ev = json.loads((run / "evaluation.json").read_text())
    assert ev["kind"] == "folk" and ev["test_pieces"] >= 1 and ev["ngram"]["best_order"] in (1, 2)
    assert set(ev["ngram"]["orders"]) == {"1", "2"} and ev["rnn"]["nll"] > 0
    for name in ("rnn", "rnn_constrained", "ngram"):
        s = ev[name]["samples"]
        assert s["pieces"] == 6 and 0 <= s["parsed_bars_full"] <= s["parsed"] <= 1
    constrained = ev["rnn_constrained"]["samples"]  # every tune that ended has its bars full
    assert constrained["ended"] > 0 and constrained["parsed_bars_full"] == constrained["ended"]
    assert ev["test_set"]["parsed_bars_full"] == 1.0  # the test tunes themselves pass the check


def test_training_leaves_a_report_with_the_music_views(run: Path):
    page = (run / "report.html").read_text(encoding="utf-8")
    assert 'section id="music-eval"' in page and 'section id="music-piece"' in page
    assert "data:image/png;base64," in page.split('section id="music-piece"')[1].split("</section>")[0]
    assert "best n-gram (order" in page and "has none" not in page


def test_compose_writes_files_music21_and_wave_read_back(run: Path, tmp_path: Path, capsys):
    from music21 import converter

    from rnnkit.music.abc import read_abc
    from rnnkit.music.tune import metre_length

    stem = tmp_path / "out" / "tune"
    assert main(["compose", str(run), "--key", "D major", "--metre", "2/4", "--bars", "6", "--out", str(stem),
                 "--seed", "3", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res["files"]) == {"abc", "musicxml", "mid", "wav", "png"}
    (tune,), skipped = read_abc(Path(res["files"]["abc"]).read_text(), "tune.abc")
    assert not skipped and (tune.tonic, tune.mode, tune.metre) == ("D", "major", "2/4")
    full = [b for b in tune.bars if sum(d for _, d in b) == metre_length("2/4")]
    assert len(tune.bars) in (6, 7) and len(full) >= 5
    for kind in ("abc", "musicxml", "mid"):
        score = converter.parse(res["files"][kind])
        assert len(score.flatten().notes) > 0, kind
    with wave.open(res["files"]["wav"]) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getnframes() > w.getframerate()
    assert Path(res["files"]["png"]).read_bytes()[:4] == b"\x89PNG"
    again = tmp_path / "again"
    main(["compose", str(run), "--key", "D major", "--metre", "2/4", "--bars", "6", "--out", str(again),
          "--seed", "3", "--json"])
    capsys.readouterr()
    first = Path(res["files"]["abc"]).read_text().splitlines()
    assert (tmp_path / "again.abc").read_text().splitlines()[2:] == first[2:]  # the same seed: the same tune


@pytest.mark.parametrize(("args", "message"), [
    (["--key", "H major"], "expected a tonic and a mode"),
    (["--key", "D bogus"], "unknown mode 'bogus'"),
    (["--key", "D dorian"], "trained on the modes major, not dorian"),
    (["--metre", "6/8"], "trained on the metres 2/4"),
    (["--metre", "7/5"], "--metre: metre '7/5'"),
    (["--bars", "0"], "--bars must be >= 1"),
    (["--temperature", "0"], "temperature must be"),
])
def test_compose_rejects_bad_inputs_in_one_line(run: Path, tmp_path: Path, capsys, args: list[str], message: str):
    assert main(["compose", str(run), "--out", str(tmp_path / "t"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnkit: error:") and message in err and len(err.splitlines()) == 1, err
    assert not list(tmp_path.iterdir())


def test_evaluate_repeats_the_evaluation(run: Path, capsys):
    assert main(["evaluate", str(run), "--data", str(run.parent / "tunes"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    saved = json.loads((run / "evaluation.json").read_text())
    assert res["task"] == "music" and res["rnn"]["nll"] == pytest.approx(saved["rnn"]["nll"])
    assert res["ngram"]["nll"] == pytest.approx(saved["ngram"]["nll"])


def test_evaluate_on_the_validation_split_with_other_sampling_settings(run: Path, capsys):
    # sampling settings are compared on the validation split, never on the test split
    tunes = str(run.parent / "tunes")
    assert main(["evaluate", str(run), "--data", tunes, "--split", "valid", "--temperature", "0.5", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    saved = json.loads((run / "evaluation.json").read_text())
    assert res["split"] == "valid" and res["sampling"]["temperature"] == 0.5
    assert res["rnn"]["nll"] != pytest.approx(saved["rnn"]["nll"])    # other pieces than the test split's
    assert main(["evaluate", str(run), "--data", tunes, "--split", "valid", "--top-p", "0.9"]) == 0
    head = capsys.readouterr().out.splitlines()[1]   # after the line naming the data and the checkpoint
    assert head.startswith("valid: ") and "chosen on this split" in head and "top-p 0.9" in head, head
    assert main(["evaluate", str(run), "--data", tunes, "--temperature", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "temperature" in err and "Traceback" not in err, err


def test_evaluate_on_a_file_that_is_not_music_names_its_own_option(run: Path, tmp_path: Path, capsys):
    (tmp_path / "ok.csv").write_text("a,b\n1,2\n")
    assert main(["evaluate", str(run), "--data", str(tmp_path / "ok.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"--data {tmp_path / 'ok.csv'}: not a music file" in err and "--corpus" not in err, err


def test_train_rejects_a_folder_without_tunes(tmp_path: Path, capsys):
    (tmp_path / "notes.txt").write_text("nothing here")
    assert main(["train", "music", "--corpus", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "no .abc, .mid" in err and str(tmp_path) in err
    assert not (tmp_path / "run").exists()
