"""Speech recognition errors: word and character error rates, the edit alignment, a word confusion table.

The error rate of a corpus is the minimal number of edits (substitutions, deletions, insertions)
that turn each hypothesis into its reference, summed over the corpus, over the number of reference
tokens summed over the corpus (as ``jiwer`` computes ``wer`` and ``cer``; not a mean of the
per-utterance rates, which would weigh a two-word utterance like a forty-word one). It can exceed
1 when hypotheses insert words.

Tokens: words are the whitespace-separated pieces of a line; characters are those of the line with
leading and trailing whitespace stripped and every run of whitespace inside it made one space, so
spaces count as characters (as in jiwer's ``cer``, which however keeps runs of spaces as they are).

The alignment is a Levenshtein dynamic programme with a backtrace, written here so that nothing is
needed at run time; ties between alignments of equal cost go to a substitution, then a deletion,
then an insertion, so the sub/del/ins split is deterministic (the total does not depend on ties).
"""

from __future__ import annotations

DEL = "<del>"
"""Hypothesis key of deletions in :func:`confusion`."""
INS = "<ins>"
"""Reference key of insertions in :func:`confusion`."""


def edit_ops(ref: list[str], hyp: list[str]) -> list[tuple[str, str | None, str | None]]:
    """A minimal alignment of ``hyp`` to ``ref``: ``("equal"|"sub"|"del"|"ins", ref token, hyp token)`` in order.

    A deletion has no hypothesis token (None), an insertion no reference token.
    """
    n, m = len(ref), len(hyp)
    # d[i][j]: edits between ref[:i] and hyp[:j].
    d = [list(range(m + 1))]
    for i in range(1, n + 1):
        prev, row = d[-1], [i] + [0] * m
        r = ref[i - 1]
        for j in range(1, m + 1):
            row[j] = min(prev[j - 1] + (r != hyp[j - 1]), prev[j] + 1, row[j - 1] + 1)
        d.append(row)
    ops: list[tuple[str, str | None, str | None]] = []
    i, j = n, m
    while i or j:
        here = d[i][j]
        if i and j and here == d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            ops.append(("equal" if ref[i - 1] == hyp[j - 1] else "sub", ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif i and here == d[i - 1][j] + 1:
            ops.append(("del", ref[i - 1], None))
            i -= 1
        else:
            ops.append(("ins", None, hyp[j - 1]))
            j -= 1
    return ops[::-1]


def tokens(text: str, unit: str = "word") -> list[str]:
    """The words (``unit="word"``) or characters (``"char"``, whitespace runs made one space) of ``text``."""
    if unit == "word":
        return text.split()
    if unit == "char":
        return list(" ".join(text.split()))
    raise ValueError(f'unit must be "word" or "char", got {unit!r}')


def _check(refs: list[str], hyps: list[str]) -> None:
    if isinstance(refs, str) or isinstance(hyps, str):
        raise TypeError("refs and hyps must be lists of lines, not one string")
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")


def error_counts(refs: list[str], hyps: list[str], unit: str = "word") -> dict[str, int]:
    """``{"errors", "subs", "dels", "ins", "ref_tokens"}`` summed over the corpus, in words or characters."""
    _check(refs, hyps)
    counts = {"errors": 0, "subs": 0, "dels": 0, "ins": 0, "ref_tokens": 0}
    key = {"sub": "subs", "del": "dels", "ins": "ins"}
    for ref, hyp in zip(refs, hyps):
        r = tokens(ref, unit)
        counts["ref_tokens"] += len(r)
        for op, _, _ in edit_ops(r, tokens(hyp, unit)):
            if op != "equal":
                counts[key[op]] += 1
    counts["errors"] = counts["subs"] + counts["dels"] + counts["ins"]
    return counts


def _rate(counts: dict[str, int], unit: str) -> float:
    if counts["ref_tokens"] == 0:
        what = "words" if unit == "word" else "characters"
        raise ValueError(f"the references have no {what}: an error rate needs at least one reference {what[:-1]}")
    return counts["errors"] / counts["ref_tokens"]


def wer(refs: list[str], hyps: list[str]) -> float:
    """Word error rate of the corpus: word edits over reference words (ValueError if there are none)."""
    return _rate(error_counts(refs, hyps, "word"), "word")


def cer(refs: list[str], hyps: list[str]) -> float:
    """Character error rate of the corpus: character edits over reference characters (ValueError if none)."""
    return _rate(error_counts(refs, hyps, "char"), "char")


def confusion(refs: list[str], hyps: list[str]) -> dict[str, dict[str, int]]:
    """``table[ref word][hyp word]``: how often each reference word was recognised as each hypothesis word.

    Over the word alignments of :func:`edit_ops`: correct words on the diagonal, deletions under the
    hypothesis key ``"<del>"``, insertions under the reference key ``"<ins>"``.
    """
    _check(refs, hyps)
    table: dict[str, dict[str, int]] = {}
    for ref, hyp in zip(refs, hyps):
        for _, r, h in edit_ops(tokens(ref), tokens(hyp)):
            row = table.setdefault(INS if r is None else r, {})
            key = DEL if h is None else h
            row[key] = row.get(key, 0) + 1
    return table


def _cell(label: str) -> str:
    # "<del>" and "<ins>" are HTML tags to a markdown renderer: code spans show them as written.
    if label in (DEL, INS):
        return f"`{label}`"
    return label.replace("|", "\\|")


def format_confusion(table: dict[str, dict[str, int]], labels: list[str] | None = None) -> str:
    """``table`` of :func:`confusion` as a markdown table: rows reference words, columns hypothesis words.

    ``labels``: the words to show, in order (default: every word of the table, sorted); counts of
    other words are left out. The last column is ``<del>``, the last row ``<ins>``.
    """
    if labels is None:
        words = {w for w in table if w != INS} | {w for row in table.values() for w in row if w != DEL}
        labels = sorted(words)
    cols = [*labels, DEL]
    lines = ["| ref \\ hyp | " + " | ".join(_cell(c) for c in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for r in [*labels, INS]:
        row = table.get(r, {})
        cells = ["" if r == INS and c == DEL else str(row.get(c, 0)) for c in cols]
        lines.append(f"| {_cell(r)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_group(refs: list[str], hyps: list[str], groups: list[str]) -> dict[str, dict]:
    """Error rates per group (a speaker, a condition), and over the whole corpus under ``"all"``.

    ``{group: {"wer", "cer", "utterances", "words": counts, "chars": counts}}`` (counts as of
    :func:`error_counts`), groups in order of first appearance, then ``"all"``. A group whose
    references have no words raises ValueError, as :func:`wer` does.
    """
    _check(refs, hyps)
    if len(groups) != len(refs):
        raise ValueError(f"{len(groups)} group names for {len(refs)} utterances")
    if "all" in groups:
        raise ValueError('"all" is the name of the whole corpus in per_group: rename that group')
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    members["all"] = list(range(len(refs)))
    out: dict[str, dict] = {}
    for g, idx in members.items():
        r, h = [refs[i] for i in idx], [hyps[i] for i in idx]
        words, chars = error_counts(r, h, "word"), error_counts(r, h, "char")
        try:
            rates = {"wer": _rate(words, "word"), "cer": _rate(chars, "char")}
        except ValueError as e:
            raise ValueError(f"group {g!r}: {e}") from None
        out[g] = {**rates, "utterances": len(idx), "words": words, "chars": chars}
    return out
