"""music21 is an optional extra: the music tests need it."""

import pytest

pytest.importorskip("music21")
