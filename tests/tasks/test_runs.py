"""Run directories: the lock under contention, leftovers of killed runs, and the checkpoint a command loads."""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rnnkit.errors import CheckpointError, RnnkitError
from rnnkit.tasks import runs
from rnnkit.training import checkpoint

TRIALS = 300


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _contender(root: str, trials: int, start, held, count, counter_lock) -> None:
    for t in range(trials):
        d = Path(root) / f"t{t}"
        start.wait(timeout=10)
        try:
            with runs.lock(d):
                with counter_lock:
                    count[t] += 1
                held.wait(timeout=10)  # the other contender tries (and fails) while this one holds the lock
        except RnnkitError:
            held.wait(timeout=10)
        else:
            continue


def test_lock_is_taken_by_exactly_one_of_two_racing_processes(tmp_path: Path):
    ctx = mp.get_context("fork")
    dead = _dead_pid()
    for t in range(0, TRIALS, 2):  # every other trial starts from a stale lock left by a killed run
        (tmp_path / f"t{t}").mkdir()
        (tmp_path / f"t{t}" / runs.LOCK).write_text(f"{dead}\n")
    start, held = ctx.Barrier(2), ctx.Barrier(2)
    count, counter_lock = ctx.Array("i", TRIALS), ctx.Lock()
    t0 = time.monotonic()
    procs = [ctx.Process(target=_contender, args=(str(tmp_path), TRIALS, start, held, count, counter_lock))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    both = [t for t in range(TRIALS) if count[t] == 2]
    none = [t for t in range(TRIALS) if count[t] == 0]
    assert not both and not none, f"both held the lock in trials {both[:10]}, neither in {none[:10]}"
    assert not any((tmp_path / f"t{t}" / runs.LOCK).exists() for t in range(TRIALS))  # released
    assert time.monotonic() - t0 < 20


def test_lock_held_by_a_live_process_and_stale_locks(tmp_path: Path):
    run = tmp_path / "run"
    with runs.lock(run):
        assert (run / runs.LOCK).read_text().strip() == str(__import__("os").getpid())
        # another process sees it taken
        code = ("import sys; from rnnkit.tasks import runs; from pathlib import Path\n"
                "try:\n  with runs.lock(Path(sys.argv[1])): print('took it')\n"
                "except Exception as e: print(e)")
        out = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True).stdout
        assert "is in use by process" in out, out
    assert not (run / runs.LOCK).exists()
    # a lock left by a dead process (or an empty one, from a kill between creating and writing it) is stale
    for text in (f"{_dead_pid()}\n", ""):
        (run / runs.LOCK).write_text(text)
        with runs.lock(run):
            pass


def test_leftover_temporary_files_are_removed_and_the_run_restarts(tmp_path: Path, capsys):
    run = tmp_path / "x"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "metrics.jsonl").write_text('{"step": 1}\n')
    (run / ".last.pt.abc123.tmp").write_bytes(b"half a checkpoint")
    (run / "curves.tmp.png").write_bytes(b"")
    err = pytest.raises(RnnkitError, runs.prepare, run, True).value
    assert "stopped before the first checkpoint" in str(err) and "without --resume" in str(err)
    assert runs.prepare(run, False) is None  # a new run may start there
    assert "starting it afresh" in capsys.readouterr().err
    assert not any(run.iterdir())


def test_leftover_temporary_files_are_removed_on_resume(tmp_path: Path):
    run = tmp_path / "x"
    run.mkdir()
    (run / "config.json").write_text('{"task": "lm"}')
    checkpoint.save_atomic(checkpoint.make("lm", {}, model={}), run / "last.pt")
    (run / ".best.pt.abc123.tmp").write_bytes(b"half")
    assert runs.prepare(run, True) == {"task": "lm"}
    with runs.lock(run):
        assert {p.name for p in run.iterdir()} == {"config.json", "last.pt", runs.LOCK}


def _save(path: Path, w: float) -> None:
    checkpoint.save_atomic(checkpoint.make("lm", {"model": {"h": 2}}, model={"w": torch.full((8,), w)}), path)


def _corrupt(path: Path) -> None:
    """Overwrite the bytes of the tensor ``w`` inside the zip archive (its size and structure stay valid)."""
    data = bytearray(path.read_bytes())
    needle = torch.full((8,), 1.0 if "best" in path.name else 2.0).numpy().tobytes()
    at = data.find(needle)
    assert at > 0
    data[at:at + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))


def test_corrupt_weights_are_detected_and_commands_fall_back_to_last(tmp_path: Path, capsys):
    run = tmp_path / "run"
    _save(run / "best.pt", 1.0)
    _save(run / "last.pt", 2.0)
    _corrupt(run / "best.pt")
    with pytest.raises(CheckpointError, match=r"best.pt is corrupt: its weights or config do not match"):
        checkpoint.load(run / "best.pt")
    path, ckpt = runs.load_checkpoint(run, "lm")
    assert path == run / "last.pt" and float(ckpt["model"]["w"][0]) == 2.0
    assert "warning:" in capsys.readouterr().err
    assert runs.find_checkpoint(run) == run / "last.pt"
    _corrupt(run / "last.pt")
    with pytest.raises(CheckpointError, match="best.pt is corrupt"):
        runs.load_checkpoint(run)
    with pytest.raises(CheckpointError, match="last.pt is corrupt"):
        runs.load_checkpoint(run / "last.pt")  # a file given: no fallback


def test_checkpoints_without_a_checksum_still_load(tmp_path: Path):
    old = tmp_path / "old.pt"
    torch.save(checkpoint.make("lm", {}, model={"w": torch.ones(2)}), old)
    assert torch.equal(checkpoint.load(old)["model"]["w"], torch.ones(2))


def _flip_weights(path: Path, name: str) -> None:
    """40 bytes of the tensor ``name`` set to 0xFF inside the file, as a bad disk or copy would."""
    w = checkpoint.load(path)["model"][name]
    data = bytearray(path.read_bytes())
    at = data.find(w.contiguous().numpy().tobytes()[:40])
    assert at > 0
    data[at:at + 40] = b"\xff" * 40
    path.write_bytes(bytes(data))


def test_commands_fall_back_from_a_corrupt_best_pt(tmp_path: Path, capsys):
    from rnnkit.cli import main

    run = tmp_path / "add"
    assert main(["train", "adding", "--lag", "5", "--out", str(run), "--hidden-size", "4", "--max-steps", "4",
                 "--eval-every", "2", "--valid-size", "8", "--test-size", "8", "--no-progress"]) == 0
    name = next(k for k in checkpoint.load(run / "best.pt")["model"] if "weight_hh" in k)
    _flip_weights(run / "best.pt", name)
    capsys.readouterr()
    assert main(["gradflow", str(run), "--out", str(tmp_path / "g.png")]) == 0
    err = capsys.readouterr().err
    assert f"warning: checkpoint {run / 'best.pt'} is corrupt" in err and f"using {run / 'last.pt'}" in err
    _flip_weights(run / "last.pt", name)
    assert main(["gradflow", str(run), "--out", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (f"rnnkit: error: checkpoint {run / 'best.pt'} is corrupt: its weights or config do not "
                       f"match the checksum stored with them; use the run's other checkpoint or retrain "
                       f"({run / 'last.pt'} can't be read either)")


@pytest.mark.parametrize("task", ["lm", "classify", "translate"])
def test_an_input_error_leaves_no_run_directory(tmp_path: Path, capsys, task):
    from rnnkit.cli import main

    out = tmp_path / "runs" / "a"  # neither exists: both were this run's to create, and to remove
    assert main(["train", task, "--data", str(tmp_path / "missing.txt"), "--out", str(out)]) == 2
    assert "missing.txt: no such file" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    out.mkdir(parents=True)  # the user's own directory is kept
    assert main(["train", task, "--data", str(tmp_path / "missing.txt"), "--out", str(out)]) == 2
    assert out.is_dir() and not list(out.iterdir())


def _save_task(path: Path, task: str, w: float, conf: dict) -> None:
    checkpoint.save_atomic(checkpoint.make(task, conf, model={"w": torch.full((8,), w)}), path)


@pytest.mark.parametrize(("task", "legacy", "select"), [("classify", "best-acc.pt", "acc"),
                                                         ("classify", "best-acc.pt", None),
                                                         ("tag", "best-score.pt", "score")])
def test_older_runs_load_the_file_their_select_chose(tmp_path: Path, task: str, legacy: str, select: str | None,
                                                     capsys):
    # what classify and tag wrote before best.pt followed --select: [data] select, and the chosen model apart
    run = tmp_path / task
    conf = {"data": {} if select is None else {"select": select}, "train": {}}
    _save_task(run / "best.pt", task, 1.0, conf)
    _save_task(run / "last.pt", task, 2.0, conf)
    _save_task(run / legacy, task, 3.0, conf)
    path, ckpt = runs.load_checkpoint(run, task)
    assert path == run / legacy and float(ckpt["model"]["w"][0]) == 3.0
    # a corrupt legacy file: the run's best.pt, with a warning
    data = bytearray((run / legacy).read_bytes())
    at = data.find(torch.full((8,), 3.0).numpy().tobytes())
    data[at:at + 8] = b"\xff" * 8
    (run / legacy).write_bytes(bytes(data))
    path, _ = runs.load_checkpoint(run, task)
    assert path == run / "best.pt" and f"warning: checkpoint {run / legacy} is corrupt" in capsys.readouterr().err


def test_older_runs_that_chose_another_file_and_new_runs_load_best_pt(tmp_path: Path):
    old_loss = tmp_path / "loss"  # an older classify run with --select loss: best.pt, as before
    for name, w in (("best.pt", 1.0), ("last.pt", 2.0), ("best-acc.pt", 3.0)):
        _save_task(old_loss / name, "classify", w, {"data": {"select": "loss"}, "train": {}})
    assert runs.load_checkpoint(old_loss)[0] == old_loss / "best.pt"
    old_last = tmp_path / "last"  # an older classify run with --select last: last.pt
    for name, w in (("best.pt", 1.0), ("last.pt", 2.0), ("best-acc.pt", 3.0)):
        _save_task(old_last / name, "classify", w, {"data": {"select": "last"}, "train": {}})
    assert runs.load_checkpoint(old_last)[0] == old_last / "last.pt"
    new = tmp_path / "new"  # this rnnkit's runs save train.select: a stray best-acc.pt is not theirs
    for name, w in (("best.pt", 1.0), ("last.pt", 2.0), ("best-acc.pt", 3.0)):
        _save_task(new / name, "classify", w, {"data": {"select": None}, "train": {"select": "acc"}})
    assert runs.load_checkpoint(new)[0] == new / "best.pt"
