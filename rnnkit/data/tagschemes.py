"""Tag schemes of chunked labels (named entities): IOB1, BIO (IOB2), BIOES; conversion, validation, spans.

A chunk of type ``X`` over tokens ``i..j`` is written, per scheme:

- **IOB1** (CoNLL-2003 as distributed): ``I-X`` on every token; ``B-X`` only on the first token
  of a chunk that directly follows another chunk of the same type.
- **BIO** (IOB2): ``B-X`` on the first token, ``I-X`` on the rest.
- **BIOES**: ``S-X`` for a one-token chunk, else ``B-X``, ``I-X``..., ``E-X``.

``O`` is outside any chunk. ``none`` stands for plain tags without chunks (parts of speech).
Every conversion goes through the chunks themselves (:func:`chunks`), so it is exact.
"""

from __future__ import annotations

from collections.abc import Sequence

from rnnkit.errors import RnnkitError

SCHEMES = ("iob1", "bio", "bioes")
PREFIXES = {"iob1": "IB", "bio": "BI", "bioes": "BIES"}


def split_tag(tag: str) -> tuple[str, str]:
    """``("B", "PER")`` for ``"B-PER"``; ``("O", "")`` for ``"O"``; ``("", tag)`` for a tag without a prefix."""
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIES":
        return tag[0], tag[2:]
    return "", tag


class SchemeDetector:
    """Finds the scheme a file's tags are written in, sentence by sentence, and the first place that
    contradicts it (mixed tag schemes).

    Evidence: an ``E-``/``S-`` prefix is BIOES; a chunk starting with ``I-`` (at the start, after ``O``
    or after another type) is IOB1 only; a ``B-`` that does not follow a chunk of its own type is
    BIO or BIOES, never IOB1; a tag without prefix (other than ``O``) is a plain tag (``none``).
    """

    def __init__(self) -> None:
        self.first: dict[str, str] = {}  # evidence -> where it was first seen

    def add(self, tags: Sequence[str], where: Sequence[str]) -> None:
        """Add a sentence's ``tags``; ``where[i]`` names token ``i`` (``file:line``) for errors."""
        prev_p, prev_t = "O", ""
        for tag, at in zip(tags, where):
            p, t = split_tag(tag)
            if p == "":
                self._see("plain", at, tag)
            elif p in "ES" and p != "O":
                self._see("bioes", at, tag)
            elif p == "I" and (prev_p in ("O", "E", "S") or prev_t != t):
                self._see("iob1", at, tag)
            elif p == "B" and (prev_p in ("O", "E", "S") or prev_t != t):
                self._see("b-start", at, tag)
            elif p != "O":
                self._see("prefixed", at, tag)
            prev_p, prev_t = p, t

    def _see(self, kind: str, at: str, tag: str) -> None:
        if kind in self.first:
            return
        self.first[kind] = f"{at} ({tag})"
        clashes = {"plain": ("bioes", "iob1", "b-start", "prefixed"), "iob1": ("bioes", "b-start")}
        for a, others in clashes.items():
            for b in others:
                if a in self.first and b in self.first:
                    names = {"plain": "plain tags", "bioes": "BIOES tags", "iob1": "IOB1 tags (I- starts a chunk)",
                             "b-start": "BIO tags (B- starts a chunk)", "prefixed": "B-/I- tags"}
                    raise RnnkitError(f"{at}: mixed tag schemes: tag {tag!r} reads as {names[kind]}, but "
                                      f"{self.first[b if kind == a else a]} reads as "
                                      f"{names[b if kind == a else a]}")

    @property
    def scheme(self) -> str:
        """``none``, ``bioes``, ``iob1`` or ``bio`` (also when nothing tells BIO from IOB1: all ``O``)."""
        if "plain" in self.first:
            return "none"
        if "bioes" in self.first:
            return "bioes"
        return "iob1" if "iob1" in self.first else "bio"


def chunks(tags: Sequence[str], scheme: str) -> list[tuple[str, int, int]]:
    """The chunks ``(type, start, end)`` (``end`` exclusive) of tags written in ``scheme``.

    Lenient like conlleval: a tag that cannot continue the open chunk starts a new one (an
    ``I-X`` after ``O`` in BIO, an ``E-X`` without its ``B-X``), so model outputs that break
    the scheme still read as chunks.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}: expected one of {', '.join(SCHEMES)}")
    out: list[tuple[str, int, int]] = []
    start, typ = -1, ""
    for i, tag in enumerate(tags):
        p, t = split_tag(tag)
        if p == "":
            raise ValueError(f"token {i + 1}: tag {tag!r} has no B-/I-/E-/S- prefix (scheme {scheme.upper()})")
        # does this token continue the open chunk?
        cont = start >= 0 and t == typ and (p == "I" or (p == "E" and scheme == "bioes"))
        if not cont and start >= 0:
            out.append((typ, start, i))
            start = -1
        if p == "O":
            continue
        if not cont:
            start, typ = i, t
        if scheme == "bioes" and p in "ES":
            out.append((typ, start, i + 1))
            start = -1
    if start >= 0:
        out.append((typ, start, len(tags)))
    return out


def from_chunks(found: Sequence[tuple[str, int, int]], n: int, scheme: str) -> list[str]:
    """``n`` tags in ``scheme`` (``bio`` or ``bioes``) writing the non-overlapping chunks ``found``."""
    tags = ["O"] * n
    for typ, s, e in found:
        if scheme == "bioes" and e - s == 1:
            tags[s] = f"S-{typ}"
            continue
        tags[s] = f"B-{typ}"
        for i in range(s + 1, e):
            tags[i] = f"I-{typ}"
        if scheme == "bioes":
            tags[e - 1] = f"E-{typ}"
    return tags


def convert(tags: Sequence[str], source: str, target: str) -> list[str]:
    """``tags`` from scheme ``source`` to ``target`` (``bio`` or ``bioes``)."""
    if target not in ("bio", "bioes"):
        raise ValueError(f"can only convert to bio or bioes, not {target!r}")
    return from_chunks(chunks(tags, source), len(tags), target)


def is_valid(tags: Sequence[str], scheme: str) -> bool:
    """Whether ``tags`` are a well-formed sequence of ``scheme`` (``bio`` or ``bioes``)."""
    start, trans, end = allowed(sorted(set(tags) | {"O"}), scheme)
    index = {t: i for i, t in enumerate(sorted(set(tags) | {"O"}))}
    ids = [index[t] for t in tags]
    if not ids:
        return True
    return start[ids[0]] and end[ids[-1]] and all(trans[a][b] for a, b in zip(ids, ids[1:]))


def allowed(labels: Sequence[str], scheme: str) -> tuple[list[bool], list[list[bool]], list[bool]]:
    """``(start, trans, end)``: which labels may start a sentence, follow each label, end a sentence.

    ``trans[i][j]``: label ``j`` may follow label ``i``. For ``none`` everything is allowed.
    BIO: ``I-X`` only after ``B-X`` or ``I-X``. BIOES additionally: after ``B-X``/``I-X`` only
    ``I-X``/``E-X``; ``B-``/``S-``/``O`` only at a chunk boundary; a sentence ends outside a chunk.
    """
    n = len(labels)
    if scheme == "none":
        return [True] * n, [[True] * n for _ in range(n)], [True] * n
    if scheme not in ("bio", "bioes"):
        raise ValueError(f"transition constraints exist for bio and bioes, not {scheme!r}")
    parts = [split_tag(t) for t in labels]
    for lab, (p, _) in zip(labels, parts):
        if p == "" or p not in "O" + PREFIXES[scheme]:
            raise ValueError(f"label {lab!r} is not a {scheme.upper()} tag")

    def inside(p: str) -> bool:  # a chunk is open after this label
        return p in ("B", "I") if scheme == "bioes" else False

    def may_follow(a: tuple[str, str], b: tuple[str, str]) -> bool:
        (pa, ta), (pb, tb) = a, b
        if scheme == "bio":
            return pb != "I" or (pa in ("B", "I") and ta == tb)
        if inside(pa):
            return pb in ("I", "E") and ta == tb
        return pb in ("O", "B", "S")

    start = [p in ("O", "B", "S") for p, _ in parts]
    trans = [[may_follow(a, b) for b in parts] for a in parts]
    end = [not inside(p) for p, _ in parts]
    return start, trans, end
