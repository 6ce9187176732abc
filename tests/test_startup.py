"""The ``rnnkit`` command's start-up: help without torch, and a Ctrl-C while torch loads is one line and status
130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

WATCHABLE = pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="watches /proc/PID/maps")


def _loading_torch(pid: int) -> bool:
    try:
        return "/torch/" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


SCRIPT = Path(sys.executable).parent / "rnnkit"  # the console script pip installed beside this interpreter


@WATCHABLE
@pytest.mark.parametrize("command", [[sys.executable, "-m", "rnnkit"],
                                     pytest.param([str(SCRIPT)], marks=pytest.mark.skipif(
                                         not SCRIPT.is_file(), reason="rnnkit is not installed as a script"))],
                         ids=["python -m rnnkit", "rnnkit script"])
def test_ctrl_c_while_torch_loads_is_one_line(command: list[str]):
    proc = subprocess.Popen([*command, "train", "lm", "--help"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 60
        while not _loading_torch(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, "the command ended before torch was loaded"
        proc.send_signal(signal.SIGINT)  # torch's shared libraries are mapped: its import is under way
        err = proc.stderr.read().decode()
        assert proc.wait(60) == 130, err
        assert err.strip() == "rnnkit: interrupted", err
    finally:
        proc.kill()
        proc.wait()


def _imports(argv: list[str]) -> tuple[str, set[str]]:
    code = "import runpy, sys\nsys.argv = ['rnnkit', *sys.argv[1:]]\ntry:\n    runpy.run_module('rnnkit', " \
           "run_name='__main__')\nexcept SystemExit:\n    pass\nprint(' '.join(sorted(sys.modules)), file=sys.stderr)"
    res = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    return res.stdout, set(res.stderr.split())


@pytest.mark.parametrize("argv", [["--help"], [], ["train", "--help"], ["train"]])
def test_help_lists_the_commands_without_importing_torch(argv: list[str]):
    """``rnnkit --help`` took seconds (8-12 on a busy machine) because every command's flags imported torch."""
    out, modules = _imports(argv)
    assert "torch" not in modules
    names = ("lm", "classify", "tag", "translate", "caption", "forecast", "adding", "music") if "train" in argv else (
        "train", "predict", "evaluate", "translate", "caption", "forecast", "export", "bench", "demo", "compose")
    assert all(name in out for name in names), out


def test_a_commands_help_has_its_flags():
    out, modules = _imports(["train", "forecast", "--help"])
    assert "--horizon" in out and "--combine" in out and "torch" in modules
