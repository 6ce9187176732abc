"""UCR/UEA time-series archive files (``.ts``, the sktime/aeon text format): multivariate, variable length.

A file is comment lines (``#``, or ``%`` as some archive files write them), ``@`` header lines
(``@problemName``, ``@univariate``, ``@dimensions``, ``@equalLength``, ``@classLabel true
<labels...>``, ...), then after ``@data`` one case per line: the channels separated by ``:``, each
a comma list of values, then the class label (when ``@classLabel true``)::

    1.86,1.89,1.94:-0.21,-0.19,-0.24:...:1

Every channel of a case must have the same length; cases may differ in length (JapaneseVowels:
7-29 steps). Timestamped series (``@timeStamps true``) are not read.

Missing values (``?`` or ``NaN``), with ``nan="fill"`` (the default): steps missing in every
channel at the end of a case are trimmed (some archive files pad variable-length cases to one
length that way), the remaining gaps are filled with the channel's previous value (leading gaps
with its first value), and the count is returned for the caller to report. With
``nan="error"`` any missing value is an error naming ``file:line``. A channel with no value at
all is always an error.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError, not_a_file

NAN_MODES = ("fill", "error")


@dataclasses.dataclass
class TSData:
    """The cases of a ``.ts`` file.

    ``series``: one ``(T_i, C)`` float32 tensor per case; ``labels``: the class label of each case
    (None if the file has none); ``classes``: the labels the header declares (may be empty);
    ``where``: ``file:line`` of each case; ``filled``: missing values filled (``nan="fill"``);
    ``trimmed``: padding steps trimmed from case ends.
    """

    series: list[Tensor]
    labels: list[str] | None
    classes: list[str]
    where: list[str]
    filled: int = 0
    trimmed: int = 0

    @property
    def channels(self) -> int:
        return self.series[0].shape[1]


def _fill(x: Tensor, where: str) -> tuple[Tensor, int, int]:
    """``(x, filled, trimmed)``: trailing all-missing steps dropped, gaps filled forward in time."""
    missing = torch.isnan(x)  # (T, C)
    if not bool(missing.any()):
        return x, 0, 0
    real = (~missing).any(1).nonzero()
    if real.numel() == 0:
        raise RnnkitError(f"{where}: every value of this case is missing")
    T = int(real.max()) + 1
    trimmed = x.shape[0] - T
    x, missing = x[:T].clone(), missing[:T]
    for c in range(x.shape[1]):
        col, gaps = x[:, c], missing[:, c]
        if bool(gaps.all()):
            raise RnnkitError(f"{where}: channel {c + 1} has no value at all")
        idx = torch.where(gaps, torch.zeros_like(gaps, dtype=torch.long), torch.arange(T))
        idx = torch.cummax(idx, 0).values  # index of the last real value at or before each step
        first = int((~gaps).nonzero()[0])
        idx = torch.where(idx < first, torch.full_like(idx, first), idx)  # leading gap: the first real value
        x[:, c] = col[idx]
    return x, int(missing.sum()), trimmed


def _values(text: str, where: str, channel: int) -> list[float]:
    out = []
    for i, v in enumerate(text.split(",")):
        v = v.strip()
        if v in ("?", "") or v.lower() == "nan":
            out.append(math.nan)
            continue
        try:
            out.append(float(v))
        except ValueError:
            raise RnnkitError(f"{where}: channel {channel}, value {i + 1}: expected a number, got {v!r}") from None
        if math.isinf(out[-1]):  # as the CSV readers do: an infinite value would poison the standardisation
            raise RnnkitError(f"{where}: channel {channel}, value {i + 1}: {v!r} is not a finite number")
    return out


def read_ts(path: str | Path, nan: str = "fill") -> TSData:
    """Read a ``.ts`` file (see the module docstring); errors name ``file:line``."""
    if nan not in NAN_MODES:
        raise RnnkitError(f"unknown missing-value handling {nan!r}: expected one of {', '.join(NAN_MODES)}")
    path = Path(path)
    if not path.is_file():
        raise not_a_file(path)
    header: dict[str, list[str]] = {}
    series: list[Tensor] = []
    labels: list[str] = []
    where: list[str] = []
    filled = trimmed = 0
    in_data = False
    dims: int | None = None
    with path.open(encoding="utf-8-sig", errors="strict") as f:  # -sig: a BOM is not part of the header
        try:
            lines = list(enumerate(f, 1))
        except UnicodeDecodeError as e:
            raise RnnkitError(f"{path}: not a UTF-8 text file ({e.reason}); is it a .ts file?") from None
    for no, raw in lines:
        line = raw.strip()
        if not line or (not in_data and line.startswith(("#", "%"))) or line.startswith("#"):
            continue
        at = f"{path}:{no}"
        if not in_data:
            if not line.startswith("@"):
                raise RnnkitError(f"{at}: expected a '@' header line or '@data' before the cases, got {line[:40]!r}")
            if not line[1:].split():
                raise RnnkitError(f"{at}: a '@' line without a header name (such as @classLabel or @data)")
            key, *rest = line[1:].split()
            key = key.lower()
            if key in ("classlabel", "timestamps", "univariate", "equallength", "missing", "dimensions") and not rest:
                raise RnnkitError(f"{at}: @{line[1:].split()[0]} without a value (true or false; a number for "
                                  f"@dimensions)")
            if key == "data":
                in_data = True
                if header.get("timestamps", ["false"])[0].lower() == "true":
                    raise RnnkitError(f"{at}: timestamped series (@timeStamps true) are not supported")
                if "dimensions" in header:
                    try:
                        dims = int(header["dimensions"][0])
                    except (ValueError, IndexError):
                        raise RnnkitError(f"{path}: @dimensions must be a number") from None
                elif header.get("univariate", [""])[0].lower() == "true":
                    dims = 1
            else:
                header[key] = rest
            continue
        has_label = header.get("classlabel", ["false"])[0].lower() == "true"
        parts = line.split(":")
        if has_label:
            if len(parts) < 2:
                raise RnnkitError(f"{at}: expected channels separated by ':' and a class label last")
            label = parts[-1].strip()
            parts = parts[:-1]
            if not label:
                raise RnnkitError(f"{at}: empty class label")
            declared = header["classlabel"][1:]
            if declared and label not in declared:
                raise RnnkitError(f"{at}: class label {label!r} is not among the header's @classLabel "
                                  f"{' '.join(declared)}")
            labels.append(label)
        if dims is None:
            dims = len(parts)
        if len(parts) != dims:
            raise RnnkitError(f"{at}: expected {dims} channels separated by ':', got {len(parts)}")
        chans = [_values(p, at, c + 1) for c, p in enumerate(parts)]
        lens = {len(c) for c in chans}
        if len(lens) != 1:
            raise RnnkitError(f"{at}: the channels of a case must have one length, got lengths "
                              f"{', '.join(str(len(c)) for c in chans)}")
        x = torch.tensor(chans, dtype=torch.float32).T.contiguous()  # (T, C)
        if nan == "error" and bool(torch.isnan(x).any()):
            t, c = (int(v) for v in torch.isnan(x).nonzero()[0])
            raise RnnkitError(f"{at}: missing value at channel {c + 1}, step {t + 1} (--nan fill fills gaps "
                              f"forward in time)")
        x, n_filled, n_trimmed = _fill(x, at)
        filled, trimmed = filled + n_filled, trimmed + n_trimmed
        series.append(x)
        where.append(at)
    if not in_data:
        raise RnnkitError(f"{path}: no @data line: not a .ts file")
    if not series:
        raise RnnkitError(f"{path}: no cases after @data")
    has_label = header.get("classlabel", ["false"])[0].lower() == "true"
    classes = header.get("classlabel", ["false"])[1:] if has_label else []
    return TSData(series, labels if has_label else None, classes, where, filled, trimmed)
