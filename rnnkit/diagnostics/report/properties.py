"""Simple, named properties of a text, one value per token, that a hidden unit might track
(Karpathy, Johnson & Fei-Fei 2015): inside quotes or parentheses, position in the line, just after a
line break, indentation depth, inside an all-capitals line (a speaker's name in a play).

Each property at token ``t`` depends only on tokens ``0..t``: what a left-to-right model could know
after reading token ``t``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DESCRIPTIONS = {
    "inside quotes": "1 between an opening and a closing double quote",
    "inside parentheses": "nesting depth of (, [ and {",
    "position in line": "tokens since the last line break",
    "after a line break": "1 on the first token of a line",
    "indentation depth": "leading spaces of the current line (a tab counts 4)",
    "all-caps line": "1 while the line so far is capital letters and punctuation (a speaker's name line)",
}
OPEN, CLOSE = "([{", ")]}"


def properties(tokens: Sequence[str], newline: str = "\n") -> dict[str, np.ndarray]:
    """``{name: (T,) float array}`` for ``tokens`` (characters, or words with ``newline`` as the line end)."""
    T = len(tokens)
    out = {name: np.zeros(T, dtype=np.float64) for name in DESCRIPTIONS}
    quote, depth, pos, indent, leading, caps, letters = 0, 0, 0, 0, True, True, False
    after = True
    for t, tok in enumerate(tokens):
        if tok == newline:
            out["position in line"][t] = pos
            out["indentation depth"][t] = indent
            out["all-caps line"][t] = float(caps and letters)
            out["inside quotes"][t] = quote
            out["inside parentheses"][t] = depth
            out["after a line break"][t] = float(after)
            pos, indent, leading, caps, letters, after = 0, 0, True, True, False, True
            continue
        out["after a line break"][t] = float(after)
        after = False
        for ch in tok:
            if ch == '"':
                quote = 1 - quote
            elif ch in OPEN:
                depth += 1
            elif ch in CLOSE:
                depth = max(0, depth - 1)
            if leading and ch in " \t":
                indent += 4 if ch == "\t" else 1
            elif not ch.isspace():
                leading = False
            if ch.isalpha():
                letters = True
                caps = caps and ch.isupper()
        out["inside quotes"][t] = quote
        out["inside parentheses"][t] = depth
        out["position in line"][t] = pos
        out["indentation depth"][t] = indent
        out["all-caps line"][t] = float(caps and letters)
        pos += 1
    return out
