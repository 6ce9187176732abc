"""music21's warnings are counted into one note; other output and other warnings pass as they were."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("music21")

from music21 import environment  # noqa: E402

from rnnkit.music.quiet import music21_warnings  # noqa: E402


def test_music21_warnings_become_one_note(capsys):
    notes: list[str] = []
    env = environment.Environment("beam")
    with pytest.warns(UserWarning, match="not music21's"), music21_warnings(notes.append, "reading 2 files"):
        env.warn(["Found a messed up beam pair", ["<music21.beam.Beams>"]])
        env.warn("a second one")
        print("rnnkit's own line")
        warnings.warn("not music21's", UserWarning, stacklevel=1)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == "rnnkit's own line\n"  # nothing of music21's reached stderr
    assert notes == ["note: music21 gave 2 warnings while reading 2 files (left out here), e.g. Found a messed up "
                     "beam pair ['<music21.beam.Beams>']"]
    assert environment.Environment.warn is not None and env.warn.__name__ == "warn"  # restored
