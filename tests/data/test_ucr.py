"""UCR/UEA .ts files: multivariate, variable length, missing values filled (or refused), errors with file:line."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from rnnkit.data.ucr import read_ts
from rnnkit.errors import RnnkitError

HEAD = ("# a comment\n@problemName toy\n@univariate false\n@dimensions 2\n@equalLength false\n"
        "@classLabel true a b\n@data\n")


def write(tmp_path: Path, body: str, head: str = HEAD) -> Path:
    f = tmp_path / "toy.ts"
    f.write_text(head + body, encoding="utf-8")
    return f


def test_multivariate_variable_length(tmp_path: Path):
    ts = read_ts(write(tmp_path, "1,2,3:4,5,6:a\n7,8:9,10:b\n"))
    assert [tuple(x.shape) for x in ts.series] == [(3, 2), (2, 2)]
    assert ts.series[0][:, 1].tolist() == [4, 5, 6] and ts.labels == ["a", "b"] and ts.classes == ["a", "b"]
    assert ts.where[1].endswith("toy.ts:9")


def test_missing_values_filled_or_refused(tmp_path: Path):
    f = write(tmp_path, "?,2,NaN,4,?:1,?,3,4,?:a\n")
    ts = read_ts(f)
    x = ts.series[0]
    # the last step is missing in every channel: padding, trimmed; the gaps take the previous value
    assert x[:, 0].tolist() == [2, 2, 2, 4] and x[:, 1].tolist() == [1, 1, 3, 4]
    assert ts.trimmed == 1 and ts.filled == 3
    with pytest.raises(RnnkitError, match=rf"{f}:8: missing value at channel 1, step 1"):
        read_ts(f, nan="error")
    with pytest.raises(RnnkitError, match="channel 2 has no value at all"):
        read_ts(write(tmp_path, "1,2:?,?:a\n"))


def test_errors_name_the_line(tmp_path: Path):
    with pytest.raises(RnnkitError, match=r"toy.ts:9: expected 2 channels separated by ':', got 1"):
        read_ts(write(tmp_path, "1,2:3,4:a\n1,2:b\n"))
    with pytest.raises(RnnkitError, match=r"toy.ts:8: class label 'c' is not among"):
        read_ts(write(tmp_path, "1,2:3,4:c\n"))
    with pytest.raises(RnnkitError, match=r"toy.ts:8: the channels of a case must have one length"):
        read_ts(write(tmp_path, "1,2:3:a\n"))
    with pytest.raises(RnnkitError, match=r"toy.ts:8: channel 2, value 1: expected a number, got 'x'"):
        read_ts(write(tmp_path, "1,2:x,4:a\n"))
    with pytest.raises(RnnkitError, match="no @data line"):
        read_ts(write(tmp_path, "", head="@problemName toy\n"))
    with pytest.raises(RnnkitError, match="timestamped"):
        read_ts(write(tmp_path, "(0,1):a\n", head="@timeStamps true\n@classLabel true a\n@data\n"))


def test_unlabelled_file(tmp_path: Path):
    ts = read_ts(write(tmp_path, "1,2,3\n", head="@univariate true\n@classLabel false\n@data\n"))
    assert ts.labels is None and ts.series[0].shape == (3, 1)


def test_japanese_vowels(data_dir: Path):
    ts = read_ts(data_dir / "ucr-uea" / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts")
    lengths = [x.shape[0] for x in ts.series]
    assert len(ts.series) == 270 and ts.channels == 12 and min(lengths) == 7 and max(lengths) == 26
    assert ts.classes == [str(i) for i in range(1, 10)] and ts.labels.count("1") == 30
    assert ts.filled == 0 and not any(bool(torch.isnan(x).any()) for x in ts.series)
    assert math.isclose(float(ts.series[0][0, 0]), 1.860936, rel_tol=1e-6)


def test_percent_comments_before_the_header(tmp_path: Path):
    """Some archive files (sktime's UnitTest) open with '%' comment lines."""
    p = tmp_path / "pc.ts"
    p.write_text("%# a cut-down ChinaTown\n%\n@problemName X\n@univariate true\n@classLabel true 1 2\n@data\n"
                 "1.0,2.0:1\n3.0,4.0:2\n", encoding="utf-8")
    ts = read_ts(p)
    assert ts.labels == ["1", "2"] and ts.series[1][:, 0].tolist() == [3.0, 4.0]
