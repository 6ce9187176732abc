"""The compiled time loop: the per-step loops of the fused LSTM, GRU and their layer-normalised and
peephole variants in C++ (``csrc/loops.cpp``).

The Python loops of the fused kernels (:mod:`rnnkit.cells.lstm`, :mod:`rnnkit.cells.gru`, ...) pay a
Python-dispatched tensor op for each of 6-8 operations per step; at small sizes that, not arithmetic,
is the time. The C++ loops, forward and backward, do one matmul call and one vectorised pass over the
gates per step, with the same equations, gate order and saved tensors; the weight gradients are still
formed once over all steps in Python. The Python loops stay: they are the fallback and the reference
(tests check the two agree).

Built once per machine and torch version with the system's C++ compiler (``$CXX``, else ``c++``;
about 20-40 s), through ``rnnkit build-loops`` or on first use, announced on stderr in both cases,
never silently; cached in ``$RNNKIT_CACHE`` (default ``~/.cache/rnnkit``). A build that fails warns
once (:class:`~rnnkit.backends.BackendFallbackWarning`, with the compiler's message) and the Python
loops run. ``RNNKIT_COMPILED=0`` turns the compiled loop off; ``RNNKIT_COMPILED=prebuilt`` uses it
only when already built (no compiler at run time).

Used for the LSTM and the GRU (with recurrent dropout and zoneout; the LSTM not with ``proj_size``),
and with recurrent dropout but not zoneout (which keeps the Python loop) for LayerNormLSTM,
LayerNormGRU, PeepholeLSTM and IndRNN; float32/float64, CPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.backends.select import BackendFallbackWarning
from rnnkit.cache import cache_dir

SOURCE = Path(__file__).with_name("csrc") / "loops.cpp"
#: -march=native: the build is per machine (its cache key holds the CPU's flags)
FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fPIC", "-std=c++17", "-shared")

_lock = threading.Lock()
_state: dict[str, Any] = {"loaded": None, "warned": False}


def mode() -> str:
    """``RNNKIT_COMPILED``: ``"1"`` (default: build on first use), ``"prebuilt"`` or ``"0"``."""
    v = os.environ.get("RNNKIT_COMPILED", "1").strip().lower()
    if v in ("0", "off", "false", "no"):
        return "0"
    return "prebuilt" if v == "prebuilt" else "1"


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor()


def _compiler() -> str:
    return os.environ.get("CXX") or "c++"


def library_path() -> Path:
    """Where this machine's build lives: keyed by the source, torch, the compiler, flags and CPU."""
    key = hashlib.sha256()
    for part in (SOURCE.read_bytes(), torch.__version__.encode(), _compiler().encode(), " ".join(FLAGS).encode(),
                 platform.machine().encode(), _cpu_flags().encode(), sys.version.encode()):
        key.update(part)
        key.update(b"\0")
    return cache_dir() / f"rnnkit_loops-{key.hexdigest()[:16]}.so"


def _command(out: Path) -> list[str]:
    from torch.utils.cpp_extension import include_paths, library_paths

    abi = int(torch.compiled_with_cxx11_abi())
    libs = library_paths()
    return ([_compiler(), *FLAGS, f"-D_GLIBCXX_USE_CXX11_ABI={abi}", "-w"]
            + [f"-I{p}" for p in include_paths()] + [str(SOURCE), "-o", str(out)]
            + [f"-L{p}" for p in libs] + ["-lc10", "-ltorch_cpu"] + [f"-Wl,-rpath,{p}" for p in libs])


def _failed_marker(lib: Path) -> Path:
    return lib.with_suffix(".failed")


def build(quiet: bool = False, retry: bool = True) -> Path:
    """Compile the loops for this machine (if not built yet) and return the library's path.

    Raises ``RuntimeError`` with the compiler's output when the build fails; the failure is recorded
    next to the library, so that later processes (``retry=False``, the first-use build) don't pay
    for the same failing build again: ``rnnkit build-loops`` retries.
    """
    lib = library_path()
    if lib.exists():
        return lib
    marker = _failed_marker(lib)
    if not retry and marker.exists():
        raise RuntimeError(f"{marker.read_text().strip()} (recorded in {marker}; rnnkit build-loops retries)")
    lib.parent.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f"rnnkit: compiling the C++ time loop for this machine (once, about 30 s; cached in {lib.parent}; "
              f"RNNKIT_COMPILED=0 skips it)", file=sys.stderr, flush=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=lib.parent)
    os.close(fd)
    try:
        try:
            res = subprocess.run(_command(Path(tmp)), capture_output=True, text=True)
            error = (None if res.returncode == 0 else f"{_compiler()} failed to build {SOURCE} "
                     f"(exit {res.returncode}):\n{(res.stderr or res.stdout)[-2000:]}")
        except OSError as e:
            error = f"no C++ compiler {_compiler()!r} ({e}); set CXX or install g++"
        if error is not None:
            with contextlib.suppress(OSError):
                marker.write_text(error)
            raise RuntimeError(error)
        os.replace(tmp, lib)  # atomic: a concurrent build or a killed one never leaves half a library
        with contextlib.suppress(OSError):
            marker.unlink()
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return lib


def load() -> bool:
    """Whether the compiled loops are loaded (building them first where :func:`mode` allows)."""
    if _state["loaded"] is not None:
        return _state["loaded"]
    with _lock:
        if _state["loaded"] is not None:
            return _state["loaded"]
        ok = False
        m = mode()
        if m != "0":
            try:
                lib = library_path()
                if m == "1" or lib.exists():
                    torch.ops.load_library(str(build(retry=False)))
                    ok = True
            except (RuntimeError, OSError) as e:
                warnings.warn(f"rnnkit: the compiled time loop is unavailable, the Python loop runs instead "
                              f"(same results, slower at small sizes): {e}", BackendFallbackWarning, stacklevel=3)
        _state["loaded"] = ok
        return ok


def usable(x: Tensor) -> bool:
    """Whether the compiled loop can run on ``x``'s buffers and is loaded: a plain CPU float32/64 tensor,
    not a fake or meta one (tracing, torch.export) nor one under a torch.func transform, which the Python
    loop serves (the C++ operator has no kernels for them)."""
    return (type(x) is torch.Tensor and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
            and not torch._C._are_functorch_transforms_active() and not torch.compiler.is_compiling()
            and load())


def ops() -> Any:
    return torch.ops.rnnkit_loops


@contextmanager
def disabled() -> Iterator[None]:
    """Run the Python loops inside this block (benchmarks and tests compare the two)."""
    with _lock:
        before = _state["loaded"]
        _state["loaded"] = False
    try:
        yield
    finally:
        _state["loaded"] = before
