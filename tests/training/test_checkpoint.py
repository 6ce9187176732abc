"""Checkpoints: atomic writes, and one-line errors for missing, truncated, foreign and newer files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnnkit.errors import CheckpointError
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
    with pytest.raises(CheckpointError, match=f"checkpoint {path} is truncated or corrupt"):
        checkpoint.load(path)


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
