"""Checkpoints: atomic writes, and one-line errors for missing, truncated, foreign and newer files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnnkit.errors import CheckpointError, RnnkitError
from rnnkit.training import checkpoint


def test_roundtrip_and_no_temp_files_left(tmp_path: Path):
    path = tmp_path / "run" / "last.pt"
    checkpoint.save_atomic(checkpoint.make("lm", {"a": 1}, model={"w": torch.ones(2)}), path)
    ckpt = checkpoint.load(path, task="lm")
    assert ckpt["config"] == {"a": 1} and torch.equal(ckpt["model"]["w"], torch.ones(2))
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path, monkeypatch):
    path = tmp_path / "last.pt"
    checkpoint.save_atomic(checkpoint.make("lm", {}, step=1), path)

    def dies(obj, f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt  # killed mid-write

    monkeypatch.setattr(torch, "save", dies)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_atomic(checkpoint.make("lm", {}, step=2), path)
    monkeypatch.undo()
    assert checkpoint.load(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_truncated(tmp_path: Path):
    path = tmp_path / "last.pt"
    checkpoint.save_atomic(checkpoint.make("lm", {}, model={"w": torch.randn(1000)}), path)
    path.write_bytes(path.read_bytes()[:1500])
    with pytest.raises(CheckpointError, match=f"checkpoint {path} is truncated or corrupt") as e:
        checkpoint.load(path)
    assert "miniz" not in str(e.value) and "resume" not in str(e.value)  # torch's internals, advice for training only


def test_the_reason_is_cut_at_a_sentence_or_a_word():
    long = RuntimeError("PytorchStreamReader failed reading zip archive: failed finding central directory. "
                        "This is an internal miniz error. If you see this, ...")
    first = "PytorchStreamReader failed reading zip archive: failed finding central directory"
    assert checkpoint._reason(long) == first
    words = checkpoint._reason(RuntimeError("word " * 60))
    assert words.endswith("word ...") and len(words) <= 124


def test_foreign_newer_other_task_missing(tmp_path: Path):
    bare = tmp_path / "bare.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), bare)
    with pytest.raises(CheckpointError, match="is not an rnnkit checkpoint"):
        checkpoint.load(bare)
    newer = tmp_path / "newer.pt"
    torch.save({"format": checkpoint.FORMAT, "version": checkpoint.VERSION + 1}, newer)
    with pytest.raises(CheckpointError, match="newer than this rnnkit"):
        checkpoint.load(newer)
    other = tmp_path / "other.pt"
    checkpoint.save_atomic(checkpoint.make("classify", {}), other)
    with pytest.raises(CheckpointError, match="from a 'classify' run, not 'lm'"):
        checkpoint.load(other, task="lm")
    with pytest.raises(CheckpointError, match="no such file"):
        checkpoint.load(tmp_path / "none.pt")
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="notes.pt is not a checkpoint file"):
        checkpoint.load(text)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.pt is an empty file"):
        checkpoint.load(empty)
    pickled = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), pickled)
    with pytest.raises(CheckpointError, match="module.pt holds pickled Python objects"):
        checkpoint.load(pickled)


@pytest.mark.parametrize("error", [RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0"),
                                   OSError(28, "No space left on device")])
def test_a_full_disk_is_one_line_naming_the_file(tmp_path: Path, monkeypatch, error):
    path = tmp_path / "last.pt"
    checkpoint.save_atomic(checkpoint.make("lm", {}, step=1), path)

    def full(obj, f):
        f.write(b"part")
        raise error

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(RnnkitError, match=f"could not write (checkpoint )?{path}") as e:
        checkpoint.save_atomic(checkpoint.make("lm", {}, step=2), path)
    assert "\n" not in str(e.value)
    monkeypatch.undo()
    assert checkpoint.load(path)["step"] == 1 and [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_checksum_covers_weights_and_config(tmp_path: Path):
    weights = {"w": torch.ones(3), "b": torch.zeros(2, dtype=torch.bfloat16)}
    ckpt = checkpoint.make("lm", {"model": {"h": 2}}, model=weights)
    path = tmp_path / "c.pt"
    checkpoint.save_atomic(ckpt, path)
    loaded = checkpoint.load(path)
    assert loaded["checksum"] == checkpoint.checksum(ckpt)
    assert checkpoint.checksum({**ckpt, "config": {"model": {"h": 3}}}) != loaded["checksum"]
    assert checkpoint.checksum({**ckpt, "model": {**ckpt["model"], "w": torch.tensor([1.0, 1.0, 1.0 + 1e-7])}}) \
        != loaded["checksum"]
    torch.save({**loaded, "config": {"model": {"h": 3}}}, path)  # a config edited inside the file
    with pytest.raises(CheckpointError, match="is corrupt: its weights or config do not match"):
        checkpoint.load(path)
