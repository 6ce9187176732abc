"""Time series from CSV: reading, frequency, gaps, time-ordered splits, windows and scaling.

Layouts (``layout``):

- ``wide``: a time column and one or more value columns; every target column is a series of its own
  (one global model learns them all), the ``covariates`` columns are past-only inputs shared by all.
- ``long``: a time column, an ``id_column`` and one target column; every id is a series.
- ``months``: a year column followed by twelve month columns (JAN..DEC), one row per year.
- ``auto``: ``months`` when the header is a year and twelve month names, ``long`` with an
  ``id_column``, else ``wide``.

Time stamps are read as periods: ``YYYY`` (yearly), ``YYYY-MM`` (monthly), ``YYYY-Qn``
(quarterly), ``YYYY-MM-DD`` or ``YYYYMMDD`` (daily; weekly, monthly, quarterly or yearly when the
dates are that far apart), ``YYYY-MM-DD HH:MM[:SS]`` (sub-daily: ``30min``, ``1h``, ...; daily or
longer when every time is midnight), a plain integer (``index``), or two columns ``year,quarter`` /
``year,month``. A column of plain integers is an index as soon as one of them can't be a year
(``1 .. 99`` then ``100``), and always with ``freq="index"``. Rows must be sorted by time without
duplicates. Missing time steps are inserted as missing values; missing values (empty, NA, NaN,
``.``) are reported and then interpolated linearly or refused (``missing``).

Only the ``csv`` module: no pandas in the core package.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnkit.errors import RnnkitError, not_a_file

FREQS = ("auto", "D", "W", "M", "Q", "Y", "index")  # and sub-daily ones: "30min", "1h", ... (see parse_freq)
SEASON = {"D": 7, "W": 52, "M": 12, "Q": 4, "Y": 1, "index": 1}  # default season length m per frequency
_SUBDAILY = re.compile(r"^(\d*)\s*(min|t|h)$", re.IGNORECASE)
MINUTES_PER_DAY = 1440


def parse_freq(freq: str) -> str:
    """The canonical name of a frequency: one of :data:`FREQS`, or a sub-daily one written ``Nmin``
    or ``Nh`` (``30min``, ``h`` = ``1h``, ``60min`` = ``1h``); a one-line error for anything else."""
    f = freq.strip()
    if f in FREQS:
        return f
    if m := _SUBDAILY.match(f):
        n = int(m.group(1) or 1) * (60 if m.group(2).lower() == "h" else 1)
        if 0 < n < MINUTES_PER_DAY and MINUTES_PER_DAY % n == 0:
            return subdaily_name(n)
    raise RnnkitError(f"--freq must be one of {', '.join(FREQS)} or a sub-daily step dividing a day such as 30min "
                      f"or 1h, got {freq!r}")


def subdaily_name(minutes: int) -> str:
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}min"


def is_subdaily(freq: str) -> bool:
    return bool(_SUBDAILY.match(freq))


def freq_step(freq: str) -> int:
    """Stamp units per period: days for ``W`` (7), minutes for sub-daily frequencies, else 1."""
    if freq == "W":
        return 7
    if m := _SUBDAILY.match(freq):
        return int(m.group(1) or 1) * (60 if m.group(2).lower() == "h" else 1)
    return 1


def default_season(freq: str) -> int:
    """The season length m of a frequency's calendar: 12 monthly, ..., one day for sub-daily data."""
    return MINUTES_PER_DAY // freq_step(freq) if is_subdaily(freq) else SEASON[freq]
MISSING = {"", "na", "nan", "n/a", "null", ".", "?", "-"}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclasses.dataclass
class Series:
    """One series on a regular grid of ``T`` periods.

    ``stamps`` (T,) int: period numbers (months since year 0 for ``M``, days for ``D``/``W``, ...);
    ``y`` (T,) float64 target; ``covariates`` (T, C) float64 past-only inputs; ``lines`` (T,) the CSV
    line each step came from (0 for an inserted missing step).
    """

    name: str
    freq: str
    stamps: np.ndarray
    y: np.ndarray
    covariates: np.ndarray
    lines: np.ndarray

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def label(self, i: int) -> str:
        """The time stamp of step ``i`` (may lie past the end: future steps)."""
        return format_stamp(int(self.stamps[0]) + i * freq_step(self.freq), self.freq)


@dataclasses.dataclass
class SeriesSet:
    """What a CSV holds: the series, their frequency, and what was filled in."""

    path: str
    series: list[Series]
    freq: str
    target: str  # the target column(s), for messages
    covariate_names: list[str]
    notes: list[str]


# -- time stamps ------------------------------------------------------------------------------

_YEAR = re.compile(r"^\d{3,4}$")
_MONTH = re.compile(r"^(\d{4})[-/](\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})[- ]?[Qq]([1-4])$")
_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d*)?)?)?"
                   r"(?:Z|[+-]\d{2}:?\d{2})?$")
_INTEGER = re.compile(r"^-?\d+$")


def parse_stamp(text: str, index: bool = False) -> tuple[str, int]:
    """``(kind, period number)`` of one time stamp; kind ``Y``, ``M``, ``Q``, ``D``, ``T`` (date and
    time: minutes since day 1 of year 1) or ``index``. ``index=True``: every plain integer is an index."""
    t = text.strip()
    if index and _INTEGER.match(t):
        return "index", int(t)
    if _YEAR.match(t):
        return "Y", int(t)
    if m := _MONTH.match(t):
        month = int(m.group(2))
        if 1 <= month <= 12:
            return "M", int(m.group(1)) * 12 + month - 1
    if m := _QUARTER.match(t):
        return "Q", int(m.group(1)) * 4 + int(m.group(2)) - 1
    if m := _DATE.match(t):
        try:
            day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).toordinal()
        except ValueError:
            day = 0
        if day and m.group(4) is None:
            return "D", day
        if day and int(m.group(4)) < 24 and int(m.group(5)) < 60:
            return "T", day * MINUTES_PER_DAY + int(m.group(4)) * 60 + int(m.group(5))
    if _INTEGER.match(t):
        return "index", int(t)
    raise ValueError(t)


_EPOCH = 719163  # date(1970, 1, 1).toordinal(): numpy's day 0


def _day(ordinal: int) -> str:
    """A day ordinal as ISO text, past 9999-12-31 too (numpy's calendar has no year limit; a
    forecast from a series ending in 9999 runs into 10000)."""
    return str(np.datetime64(int(ordinal) - _EPOCH, "D"))


def format_stamp(stamp: int, freq: str) -> str:
    if freq == "Y":
        return str(stamp)
    if freq == "M":
        return f"{stamp // 12:04d}-{stamp % 12 + 1:02d}"
    if freq == "Q":
        return f"{stamp // 4:04d}-Q{stamp % 4 + 1}"
    if freq in ("D", "W"):
        return _day(stamp)
    if is_subdaily(freq):
        day, minute = divmod(stamp, MINUTES_PER_DAY)
        return f"{_day(day)} {minute // 60:02d}:{minute % 60:02d}"
    return str(stamp)


def _regrid(kind: str, stamps: list[int], freq: str, where: str) -> tuple[str, list[int]]:
    """The frequency (inferred from the spacing unless given) and the stamps on its grid."""
    if kind == "T":
        midnight = all(s % MINUTES_PER_DAY == 0 for s in stamps)
        if midnight and (freq in ("auto", "D", "W", "M", "Q", "Y")):  # dates written with 00:00
            if freq != "auto" or len(stamps) < 2 or min(b - a for a, b in zip(stamps, stamps[1:])) >= MINUTES_PER_DAY:
                return _regrid("D", [s // MINUTES_PER_DAY for s in stamps], freq, where)
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        spacing = max(sorted(set(gaps)), key=gaps.count) if gaps else 60
        if freq == "auto":
            if not (0 < spacing < MINUTES_PER_DAY and MINUTES_PER_DAY % spacing == 0):
                raise RnnkitError(f"{where}: time stamps {spacing} minutes apart have no known frequency; give "
                                  f"--freq (such as 30min or 1h)")
            freq = subdaily_name(spacing)
        if not is_subdaily(freq):
            raise RnnkitError(f"{where}: the time stamps have times of day, not --freq {freq} (give --freq such as "
                              f"30min or 1h)")
        return freq, stamps
    if is_subdaily(freq):
        raise RnnkitError(f"{where}: --freq {freq} needs time stamps with a time of day (YYYY-MM-DD HH:MM)")
    if kind == "D":
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        spacing = max(sorted(set(gaps)), key=gaps.count) if gaps else 1  # the most common spacing
        inferred = ("D" if spacing == 1 else "W" if spacing == 7 else "M" if 28 <= spacing <= 31 else
                    "Q" if 89 <= spacing <= 92 else "Y" if spacing in (365, 366) else "")
        if freq == "auto":
            if not inferred:
                raise RnnkitError(f"{where}: dates {spacing} days apart have no known frequency; give --freq "
                                  f"(one of {', '.join(FREQS[1:])})")
            freq = inferred
        if freq in ("M", "Q", "Y"):
            dates = [dt.date.fromordinal(s) for s in stamps]
            per = {"M": lambda d: d.year * 12 + d.month - 1, "Q": lambda d: d.year * 4 + (d.month - 1) // 3,
                   "Y": lambda d: d.year}[freq]
            return freq, [per(d) for d in dates]
        if freq not in ("D", "W"):
            raise RnnkitError(f"{where}: --freq {freq} does not fit dates")
        return freq, stamps
    if freq not in ("auto", kind) and not (kind == "index" or freq == "index"):
        raise RnnkitError(f"{where}: the time stamps are {kind} periods, not --freq {freq}")
    return (kind if freq == "auto" else freq), stamps


# -- reading ----------------------------------------------------------------------------------


def _number(text: str, where: str, column: str) -> float:
    t = text.strip()
    if t.lower() in MISSING:
        return math.nan
    try:
        v = float(t)
    except ValueError:
        raise RnnkitError(f"{where}: column {column!r}: expected a number, got {t!r}") from None
    if math.isinf(v):
        raise RnnkitError(f"{where}: column {column!r}: expected a finite number, got {t!r}")
    return v


def _columns(spec: str) -> list[str]:
    return [c.strip() for c in spec.split(",") if c.strip()] if spec else []


def read_series(path: str | Path, target: str = "", time: str = "", id_column: str = "", covariates: str = "",
                layout: str = "auto", freq: str = "auto", missing: str = "interpolate") -> SeriesSet:
    """Read a CSV into a :class:`SeriesSet` (module docstring).

    ``target``, ``covariates``: comma lists of columns (target default: every column that is not the
    time, id or a covariate); ``time``: the time column, or two (``year,quarter``), default the first.
    """
    path = Path(path)
    freq = parse_freq(freq)
    if missing not in ("interpolate", "error"):
        raise RnnkitError(f"--missing must be interpolate or error, got {missing!r}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (FileNotFoundError, IsADirectoryError):
        raise not_a_file(path) from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise RnnkitError(f"{path}: not a UTF-8 CSV file ({e})") from None
    rows = [(i + 1, r) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise RnnkitError(f"{path}: expected a header line and data rows, found {len(rows)} line(s)")
    (_, header), body = rows[0], rows[1:]
    header = [h.strip() for h in header]
    for line, r in body:
        if len(r) != len(header):
            raise RnnkitError(f"{path}:{line}: expected {len(header)} fields as in the header, got {len(r)}")
    if layout == "auto":
        names = [h.lower()[:3] for h in header[1:13]]
        layout = "months" if len(header) == 13 and tuple(names) == MONTHS else "long" if id_column else "wide"
    if layout not in ("wide", "long", "months"):
        raise RnnkitError(f"--layout must be auto, wide, long or months, got {layout!r}")

    def col(name: str, what: str) -> int:
        if name not in header:
            raise RnnkitError(f"{path}: no column {name!r} ({what}); the header has {', '.join(map(repr, header))}")
        return header.index(name)

    if layout == "months":
        return _read_months(path, header, body, target, freq, missing)
    time_cols = [col(c, "--time") for c in _columns(time)] or [0]
    if len(time_cols) > 2:
        raise RnnkitError(f"--time: one column, or two (year,quarter or year,month), got {time!r}")
    id_col = col(id_column, "--id-column") if id_column else None
    if layout == "long" and id_col is None:
        raise RnnkitError("--layout long needs --id-column (the column naming each series)")
    cov_cols = [col(c, "--covariates") for c in _columns(covariates)]
    taken = set(time_cols) | set(cov_cols) | ({id_col} if id_col is not None else set())
    targets = [col(c, "--target") for c in _columns(target)] or [i for i in range(len(header)) if i not in taken]
    if not targets:
        raise RnnkitError(f"{path}: no target column left besides time, id and covariates; give --target")
    if layout == "long" and len(targets) != 1:
        raise RnnkitError(f"--layout long takes one --target column, got {', '.join(header[i] for i in targets)}")
    bad = set(targets) & taken
    if bad:
        raise RnnkitError(f"column {header[min(bad)]!r} is both a target and the time, id or a covariate")

    def stamp_text(r: list[str]) -> str:
        if len(time_cols) == 1:
            return r[time_cols[0]]
        year, per = r[time_cols[0]].strip(), r[time_cols[1]].strip()
        quarterly = "q" in header[time_cols[1]].lower()
        return f"{year}-Q{per}" if quarterly else f"{year}-{per}"

    groups: dict[str, list[tuple[int, list[str]]]] = {}
    for line, r in body:
        groups.setdefault(r[id_col].strip() if id_col is not None else "", []).append((line, r))
    tname = "+".join(header[i] for i in time_cols)
    out: list[Series] = []
    notes: list[str] = []
    found_freq = ""
    for gid, grows in groups.items():
        kind, stamps = _stamps(path, [(line, stamp_text(r)) for line, r in grows], tname, freq == "index")
        gfreq, stamps = _regrid(kind, stamps, freq, f"{path}, column {tname!r}")
        if found_freq and gfreq != found_freq:
            raise RnnkitError(f"{path}: series {gid!r} is {gfreq}, the others {found_freq}; one frequency per file")
        found_freq = gfreq
        lines = [line for line, _ in grows]
        _check_order(path, tname, stamps, lines, [stamp_text(r) for _, r in grows])
        covs = np.array([[_number(r[c], f"{path}:{line}", header[c]) for c in cov_cols] for line, r in grows],
                        dtype=np.float64).reshape(len(grows), len(cov_cols))
        for t in targets:
            name = gid if layout == "long" else (header[t] or path.stem)
            y = np.array([_number(r[t], f"{path}:{line}", header[t]) for line, r in grows], dtype=np.float64)
            s, note = _regular(path, name, header[t], gfreq, stamps, lines, y, covs, [header[c] for c in cov_cols],
                               missing)
            out.append(s)
            notes += note
    tcols = ", ".join(header[i] for i in targets)
    return SeriesSet(str(path), out, found_freq, tcols, [header[c] for c in cov_cols], notes)


def _stamps(path: Path, texts: list[tuple[int, str]], column: str, index: bool) -> tuple[str, list[int]]:
    """The kind and period numbers of a column of time stamps, all written alike. Plain integers are
    years while each has 3-4 digits; once one doesn't (0-99, 10000, or a sign), the whole column is
    an integer index: an index that reaches 100 is still an index."""
    kinds, stamps = set(), []
    for line, text in texts:
        try:
            kind, stamp = parse_stamp(text, index)
        except ValueError:
            raise RnnkitError(f"{path}:{line}: column {column!r}: expected a time stamp (YYYY, YYYY-MM, YYYY-Qn, "
                              f"YYYY-MM-DD, YYYYMMDD, YYYY-MM-DD HH:MM or an integer), got {text.strip()!r}") from None
        if kinds == {"Y"} and kind == "index" or kinds == {"index"} and kind == "Y" and _INTEGER.match(text.strip()):
            kinds, kind = {"index"}, "index"
            stamps = [int(t.strip()) for _, t in texts[: len(stamps)]]
        kinds.add(kind)
        stamps.append(stamp)
        if len(kinds) > 1:
            raise RnnkitError(f"{path}:{line}: column {column!r}: time stamp {text.strip()!r} is written "
                              f"differently from the rows above")
    return kinds.pop(), stamps


def _check_order(path: Path, column: str, stamps: list[int], lines: list[int], texts: list[str]) -> None:
    for i in range(1, len(stamps)):
        if stamps[i] == stamps[i - 1]:
            raise RnnkitError(f"{path}:{lines[i]}: column {column!r}: duplicated time stamp {texts[i].strip()!r} "
                              f"(also at line {lines[i - 1]})")
        if stamps[i] < stamps[i - 1]:
            raise RnnkitError(f"{path}:{lines[i]}: column {column!r}: time stamp {texts[i].strip()!r} comes before "
                              f"{texts[i - 1].strip()!r} (line {lines[i - 1]}); rows must be sorted by time")


def _regular(path: Path, name: str, column: str, freq: str, stamps: list[int], lines: list[int], y: np.ndarray,
             covs: np.ndarray, cov_names: list[str], missing: str) -> tuple[Series, list[str]]:
    """The series on a regular grid: missing steps inserted, missing values reported and filled."""
    step = freq_step(freq)
    offsets = [(s - stamps[0]) for s in stamps]
    if any(o % step for o in offsets):
        i = next(k for k, o in enumerate(offsets) if o % step)
        what = "weekly" if freq == "W" else f"{freq}"
        raise RnnkitError(f"{path}:{lines[i]}: time stamp off the {what} grid started at line {lines[0]}")
    pos = np.array(offsets) // step
    T = int(pos[-1]) + 1
    if T > 10 * len(stamps) + 1000:  # mostly inserted steps: a wrong stamp or a wrong --freq, not gaps to fill
        k = int(np.argmax(np.diff(pos)))
        raise RnnkitError(f"{path}:{lines[k + 1]}: time stamp jumps {int(pos[k + 1] - pos[k]):,} steps past line "
                          f"{lines[k]}: the {len(stamps)} rows would span {T:,} {freq} steps; check that line or "
                          f"--freq")
    full_y = np.full(T, np.nan)
    full_c = np.full((T, covs.shape[1]), np.nan)
    full_l = np.zeros(T, dtype=np.int64)
    full_y[pos], full_c[pos], full_l[pos] = y, covs, lines
    notes = []
    gaps = T - len(stamps)
    holes = int(np.isnan(full_y).sum()) - gaps
    if gaps or holes:
        first = next(int(lines[i]) for i in range(len(lines)) if np.isnan(y[i])) if holes else 0
        what = []
        if gaps:
            k = int(np.argmax(np.diff(pos) > 1))
            what.append(f"{gaps} missing time step(s) (first after line {lines[k]})")
        if holes:
            what.append(f"{holes} missing value(s) (first at line {first})")
        msg = f"{path}: column {column!r}: {' and '.join(what)}"
        if missing == "error":
            raise RnnkitError(msg + "; fill them in, or pass --missing interpolate")
        notes.append(msg + ": filled by linear interpolation")
        full_y = interpolate(full_y)
    for j, cname in enumerate(cov_names):
        if np.isnan(full_c[:, j]).any():
            if missing == "error":
                k = int(np.argmax(np.isnan(full_c[:, j])))
                raise RnnkitError(f"{path}:{full_l[k] or '?'}: column {cname!r}: missing value; fill it in or pass "
                                  f"--missing interpolate")
            full_c[:, j] = interpolate(full_c[:, j])
    if np.isnan(full_y).all():
        raise RnnkitError(f"{path}: column {column!r} has no values")
    stamps_full = stamps[0] + np.arange(T) * step
    return Series(name, freq, stamps_full, full_y, full_c, full_l), notes


def _read_months(path: Path, header: list[str], body: list[tuple[int, list[str]]], target: str, freq: str,
                 missing: str) -> SeriesSet:
    """A year column and twelve month columns: one monthly series, read row by row."""
    if freq not in ("auto", "M"):
        raise RnnkitError(f"{path}: a year-by-month table is monthly, not --freq {freq}")
    years, lines, values = [], [], []
    for line, r in body:
        try:
            kind, year = parse_stamp(r[0])
        except ValueError:
            kind, year = "", 0
        if kind != "Y":
            raise RnnkitError(f"{path}:{line}: column {header[0]!r}: expected a year, got {r[0].strip()!r}")
        years.append(year)
        lines.append(line)
        values.append([_number(v, f"{path}:{line}", header[1 + k]) for k, v in enumerate(r[1:13])])
    _check_order(path, header[0], years, lines, [str(y) for y in years])
    stamps = [y * 12 + m for y in years for m in range(12)]
    flat_lines = [line for line in lines for _ in range(12)]
    y = np.array(values, dtype=np.float64).reshape(-1)
    name = target or path.stem
    s, notes = _regular(path, name, "JAN..DEC", "M", stamps, flat_lines, y, np.zeros((len(y), 0)), [], missing)
    return SeriesSet(str(path), [s], "M", name, [], notes)


def interpolate(v: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaNs; leading and trailing NaNs take the nearest value."""
    ok = ~np.isnan(v)
    if ok.all() or not ok.any():
        return v.copy()
    idx = np.arange(len(v))
    return np.interp(idx, idx[ok], v[ok])


# -- calendar features (known in the future) --------------------------------------------------


def calendar_features(freq: str, stamps: np.ndarray) -> np.ndarray:
    """``(T, F)`` sine/cosine of the position in the year (and week, for daily data; day and week for
    sub-daily data); ``F = 0`` for yearly and index series. These are the known-future covariates:
    computable for any future step."""
    s = np.asarray(stamps, dtype=np.int64)
    if is_subdaily(freq):
        phases = [(s % MINUTES_PER_DAY) / MINUTES_PER_DAY, (s // MINUTES_PER_DAY % 7) / 7.0]
    elif freq == "M":
        phases = [(s % 12) / 12.0]
    elif freq == "Q":
        phases = [(s % 4) / 4.0]
    elif freq in ("W", "D"):
        days = (s - _EPOCH).astype("M8[D]")
        doy = (days - days.astype("M8[Y]").astype("M8[D]")).astype(np.int64)  # 0 on 1 January
        phases = [doy / 365.25] + ([(s % 7) / 7.0] if freq == "D" else [])
    else:
        return np.zeros((len(s), 0))
    return np.stack([f(2 * np.pi * p) for p in phases for f in (np.sin, np.cos)], axis=1)


# -- splits, origins, windows, scaling ---------------------------------------------------------


@dataclasses.dataclass
class Split:
    """Time-ordered spans of a series of ``n`` steps: train ``[0, valid_start)``, validation
    ``[valid_start, test_start)``, test ``[test_start, n)``."""

    n: int
    valid_start: int
    test_start: int


def split_spans(s: Series, horizon: int, test: int, valid: int, context: int, column: str) -> Split:
    """The split of ``s`` with ``test`` and ``valid`` final steps held out; one-line errors when the
    spans can't hold a horizon, or the training span is too short for one context window and horizon."""
    n = len(s)
    if test and horizon > test:
        start = int(s.lines[max(0, n - test)])
        raise RnnkitError(f"--horizon {horizon} is longer than the test span (--test {test} steps) of column "
                          f"{column!r}, which starts at line {start or '?'}; shorten --horizon or lengthen --test")
    if valid and horizon > valid:
        raise RnnkitError(f"--horizon {horizon} is longer than the validation span (--valid {valid} steps)")
    test_start, valid_start = n - test, n - test - valid
    if valid_start < context + horizon:
        left = max(valid_start, 0)
        rows = f" (rows at lines {int(s.lines[0])}-{int(s.lines[valid_start - 1])})" if left else ""
        raise RnnkitError(f"column {column!r}, series {s.name!r}: too little history: the series has {n} steps; "
                          f"the test and validation spans ({test} + {valid}) leave {left} steps{rows} for training, "
                          f"but one training window, context {context} plus --horizon {horizon}, needs "
                          f"{context + horizon}; shorten --horizon (or --test, --valid, --context)")
    return Split(n, valid_start, test_start)


def origins(start: int, end: int, horizon: int, stride: int) -> list[int]:
    """Forecast origins ``o`` (first forecast step) in ``[start, end - horizon]``, every ``stride``
    steps, always including the last one (the final ``horizon`` steps): rolling-origin evaluation."""
    last = end - horizon
    if last < start:
        return []
    out = list(range(start, last + 1, stride))
    if out[-1] != last:
        out.append(last)
    return out


@dataclasses.dataclass
class Scaler:
    """Per-series transform and scale: ``z = (f(y) - shift) / scale``, ``f`` the identity or ``log``.

    ``scale`` is the mean absolute one-step change of ``f(y)`` over the training span, so a
    network sees changes of order one whatever the units; ``shift`` is the training mean.
    """

    log: bool
    shift: float
    scale: float

    @classmethod
    def fit(cls, y: np.ndarray, log: bool) -> Scaler:
        v = np.log(y) if log else y
        d = np.abs(np.diff(v))
        scale = float(d.mean()) if d.size and d.mean() > 0 else float(np.abs(v).mean() or 1.0)
        return cls(log, float(v.mean()), scale)

    def forward(self, y: np.ndarray) -> np.ndarray:
        return ((np.log(y) if self.log else y) - self.shift) / self.scale

    def inverse(self, z: np.ndarray) -> np.ndarray:
        v = np.asarray(z) * self.scale + self.shift
        return np.exp(v) if self.log else v


def check_positive(s: Series, column: str) -> None:
    """A log transform needs every value > 0: name the first row that isn't."""
    bad = np.nonzero(~(s.y > 0))[0]
    if bad.size:
        i = int(bad[0])
        raise RnnkitError(f"line {int(s.lines[i]) or '?'}: column {column!r}: --transform log needs values > 0, "
                          f"got {s.y[i]:g}")


def seasonal_base(z: np.ndarray, origin: int, horizon: int, m: int) -> np.ndarray:
    """``(horizon,)`` the seasonal-naive forecast from ``origin`` over ``z`` (``m = 1``: the last value)."""
    k = np.arange(horizon)
    return z[origin - m + (k % m)] if m > 1 else np.full(horizon, z[origin - 1])


def window_indices(starts: Sequence[int], context: int) -> np.ndarray:
    """``(N, context)`` step indices of the context windows ending just before each origin."""
    return np.asarray(starts)[:, None] - context + np.arange(context)[None, :]
