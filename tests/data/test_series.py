"""Reading series CSVs: layouts, time stamps, frequency, gaps, splits, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit.data import series as ser
from rnnkit.errors import RnnkitError


def write(tmp_path: Path, text: str, name: str = "s.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("text,kind", [("1950", "Y"), ("1950-03", "M"), ("1950Q2", "Q"), ("1950-Q2", "Q"),
                                       ("1950-03-04", "D"), ("19500304", "D"), ("17", "index")])
def test_parse_stamp_kinds(text, kind):
    assert ser.parse_stamp(text)[0] == kind


def test_stamps_round_trip():
    for freq, text in (("Y", "1950"), ("M", "1950-03"), ("Q", "1950-Q2"), ("D", "1950-03-04")):
        assert ser.format_stamp(ser.parse_stamp(text)[1], freq) == text


def test_wide_two_targets_and_a_covariate(tmp_path):
    p = write(tmp_path, "t,a,b,x\n2000-01,1,10,5\n2000-02,2,20,6\n2000-03,3,30,7\n")
    data = ser.read_series(p, target="a,b", covariates="x")
    assert data.freq == "M" and [s.name for s in data.series] == ["a", "b"]
    assert data.series[1].y.tolist() == [10, 20, 30]
    assert data.series[0].covariates[:, 0].tolist() == [5, 6, 7]
    assert data.series[0].label(3) == "2000-04"  # a future step


def test_long_format_groups_by_id(tmp_path):
    p = write(tmp_path, "id,t,y\nu,2000,1\nu,2001,2\nv,1990,7\nv,1991,8\nv,1992,9\n")
    data = ser.read_series(p, target="y", time="t", id_column="id")
    assert [(s.name, len(s)) for s in data.series] == [("u", 2), ("v", 3)]
    assert data.freq == "Y"


def test_dates_weekly_and_monthly_inferred(tmp_path):
    weekly = write(tmp_path, "d,y\n20000101,1\n20000108,2\n20000122,4\n", "w.csv")
    data = ser.read_series(weekly, missing="interpolate")
    s = data.series[0]
    assert data.freq == "W" and s.y.tolist() == [1, 2, 3, 4]  # the missing week inserted and interpolated
    assert "missing time step" in data.notes[0]
    monthly = write(tmp_path, "d,y\n2000-01-01,1\n2000-02-01,2\n2000-03-01,3\n", "m.csv")
    assert ser.read_series(monthly).freq == "M"


def test_year_and_quarter_columns(tmp_path):
    p = write(tmp_path, "year,quarter,gdp\n1959,1,1\n1959,2,2\n1959,3,3\n1959,4,4\n1960,1,5\n")
    data = ser.read_series(p, time="year,quarter", target="gdp")
    assert data.freq == "Q" and data.series[0].label(4) == "1960-Q1"


def test_missing_values_reported_then_interpolated_or_refused(tmp_path):
    p = write(tmp_path, "t,y\n2000,1\n2001,\n2002,NA\n2003,4\n")
    data = ser.read_series(p)
    assert data.series[0].y.tolist() == [1, 2, 3, 4]
    assert "2 missing value(s) (first at line 3)" in data.notes[0]
    with pytest.raises(RnnkitError, match=r"column 'y': 2 missing value"):
        ser.read_series(p, missing="error")


@pytest.mark.parametrize("body,match", [
    ("t,y\n2000,1\n2002,2\n2001,3\n", r"s\.csv:4: column 't': time stamp '2001' comes before '2002' \(line 3\)"),
    ("t,y\n2000,1\n2001,2\n2001,3\n", r"s\.csv:4: column 't': duplicated time stamp '2001' \(also at line 3\)"),
    ("t,y\n2000,1\n2001,abc\n", r"s\.csv:3: column 'y': expected a number, got 'abc'"),
    ("t,y\n2000,1\nyesterday,2\n", r"s\.csv:3: column 't': expected a time stamp"),
    ("t,y\n2000,1\n2001,2,3\n", r"s\.csv:3: expected 2 fields"),
])
def test_bad_input_names_line_and_column(tmp_path, body, match):
    with pytest.raises(RnnkitError, match=match):
        ser.read_series(write(tmp_path, body))


def test_unknown_column_lists_the_header(tmp_path):
    with pytest.raises(RnnkitError, match=r"no column 'z' \(--target\); the header has 't', 'y'"):
        ser.read_series(write(tmp_path, "t,y\n2000,1\n"), target="z")


def test_months_layout_on_elnino(data_dir):
    data = ser.read_series(data_dir / "forecasting" / "elnino.csv")
    s = data.series[0]
    assert data.freq == "M" and len(s) == 61 * 12
    assert s.label(0) == "1950-01" and s.label(len(s) - 1) == "2010-12"
    assert s.y[1] == pytest.approx(24.2) and s.y[-1] == pytest.approx(22.07)


def test_split_errors_name_the_column_and_rows(tmp_path):
    s = ser.read_series(write(tmp_path, "t,y\n" + "".join(f"{2000 + i},{i}\n" for i in range(20)))).series[0]
    with pytest.raises(RnnkitError, match=r"--horizon 6 is longer than the test span \(--test 4 steps\) of column 'y'"):
        ser.split_spans(s, 6, 4, 6, 4, "y")
    with pytest.raises(RnnkitError,
                       match=r"column 'y'.*too little history: .* leave 12 steps \(rows at lines 2-13\).*needs 14"):
        ser.split_spans(s, 4, 4, 4, 10, "y")
    split = ser.split_spans(s, 4, 4, 4, 4, "y")
    assert (split.valid_start, split.test_start, split.n) == (12, 16, 20)


def test_origins_cover_the_span_and_end_with_the_last():
    assert ser.origins(10, 20, 4, 1) == list(range(10, 17))
    assert ser.origins(10, 20, 4, 4) == [10, 14, 16]
    assert ser.origins(10, 12, 4, 1) == []


def test_scaler_round_trip_and_scale():
    y = np.array([1.0, 2.0, 4.0, 8.0])
    sc = ser.Scaler.fit(y, log=True)
    assert sc.scale == pytest.approx(np.log(2))
    assert np.allclose(sc.inverse(sc.forward(y)), y)


def test_calendar_features_are_periodic():
    cal = ser.calendar_features("M", np.arange(24))
    assert cal.shape == (24, 2) and np.allclose(cal[:12], cal[12:])
    assert ser.calendar_features("Y", np.arange(5)).shape == (5, 0)


def test_seasonal_base():
    z = np.arange(10.0)
    assert ser.seasonal_base(z, 8, 5, 4).tolist() == [4, 5, 6, 7, 4]
    assert ser.seasonal_base(z, 8, 3, 1).tolist() == [7, 7, 7]


def test_integer_index_past_row_100_stays_an_index(tmp_path):
    # 1..99 cannot be years, so 100, 101, ... (3-digit integers) are the same integer index
    p = write(tmp_path, "t,y\n" + "".join(f"{i},{i % 7}\n" for i in range(1, 151)))
    data = ser.read_series(p)
    s = data.series[0]
    assert data.freq == "index" and len(s) == 150 and s.label(149) == "150" and s.label(150) == "151"
    # year-like integers are years unless --freq index says they count steps
    p = write(tmp_path, "t,y\n" + "".join(f"{1990 + i},{i}\n" for i in range(20)), "years.csv")
    assert ser.read_series(p).freq == "Y" and ser.read_series(p, freq="index").freq == "index"
    p = write(tmp_path, "t,y\n" + "".join(f"{20000101 + i},{i}\n" for i in range(5)), "big.csv")
    assert ser.read_series(p, freq="index").series[0].label(0) == "20000101"  # an 8-digit index, not a date


def half_hours(n: int, skip: int | None = None) -> str:
    rows = [f"2021-03-{1 + i // 48:02d} {i % 48 // 2:02d}:{30 * (i % 2):02d},{i}\n" for i in range(n) if i != skip]
    return "time,load\n" + "".join(rows)


def test_subdaily_stamps_inferred_or_given(tmp_path):
    p = write(tmp_path, half_hours(200, skip=7))
    data = ser.read_series(p)
    s = data.series[0]
    assert data.freq == "30min" and len(s) == 200 and s.y[7] == pytest.approx(7)  # the missing half hour filled
    assert s.label(0) == "2021-03-01 00:00" and s.label(49) == "2021-03-02 00:30"
    assert ser.read_series(p, freq="30min").freq == "30min"
    assert ser.default_season("30min") == 48 and ser.default_season("1h") == 24
    assert ser.parse_freq("h") == ser.parse_freq("60min") == "1h"
    cal = ser.calendar_features("30min", s.stamps)
    assert cal.shape == (200, 4) and np.allclose(cal[:48, :2], cal[48:96, :2])  # the time of day repeats daily
    with pytest.raises(RnnkitError, match=r"s\.csv:3: time stamp off the 1h grid started at line 2"):
        ser.read_series(p, freq="1h")  # 00:30 is not on an hourly grid
    with pytest.raises(RnnkitError, match=r"--freq must be one of .* such as 30min or 1h, got '7min'"):
        ser.read_series(p, freq="7min")
    with pytest.raises(RnnkitError, match=r"--freq 1h needs time stamps with a time of day"):
        ser.read_series(write(tmp_path, "t,y\n2000-01-01,1\n2000-01-02,2\n", "d.csv"), freq="1h")
    midnight = write(tmp_path, "t,y\n" + "".join(f"2000-01-{1 + i:02d} 00:00,{i}\n" for i in range(9)), "mid.csv")
    assert ser.read_series(midnight).freq == "D"  # dates written with a time of 00:00 stay daily


def test_dates_past_9999_format_and_have_calendar_features():
    import datetime as dt

    last = dt.date(9999, 12, 31).toordinal()
    assert ser.format_stamp(last + 1, "D") == "10000-01-01"  # a forecast from a series that ends in 9999
    assert ser.format_stamp((last + 1) * ser.MINUTES_PER_DAY + 90, "30min") == "10000-01-01 01:30"
    days = np.arange(dt.date(2019, 12, 30).toordinal(), dt.date(2020, 3, 2).toordinal())
    doy = np.array([dt.date.fromordinal(int(o)).timetuple().tm_yday - 1 for o in days])
    cal = ser.calendar_features("D", days)
    assert np.allclose(cal[:, 0], np.sin(2 * np.pi * doy / 365.25))  # the day of the year as the calendar's
    assert np.isfinite(ser.calendar_features("D", np.array([last, last + 1]))).all()


def test_a_stamp_far_off_the_grid_is_an_error_not_a_huge_allocation(tmp_path):
    p = write(tmp_path, "t,y\n1,1\n2,2\n3,3\n10000000000,4\n")
    with pytest.raises(RnnkitError, match=r"s.csv:5: time stamp jumps 9,999,999,997 steps past line 4"):
        ser.read_series(p)
