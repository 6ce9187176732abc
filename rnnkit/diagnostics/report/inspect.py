"""``rnnkit inspect RUN --text FILE``: the hidden-unit view of a language model over any text, as HTML."""

from __future__ import annotations

from pathlib import Path

from rnnkit.diagnostics.report.activations import MAX_RANK_TOKENS, units_sections
from rnnkit.diagnostics.report.html import page
from rnnkit.diagnostics.report.textcolor import css


def inspect_html(run: str | Path, text_file: str | Path) -> str:
    """The page: the run's units read over ``text_file`` (its first tokens, up to the ranking's bound)."""
    from rnnkit.data import read_text
    from rnnkit.errors import RnnkitError
    from rnnkit.tasks import lm

    model, vocab, _, path = lm.load_run(run)  # another task's run: a one-line error naming it
    text = read_text(str(text_file), "text")
    ids, unknown = vocab.encode(text[: MAX_RANK_TOKENS * 20])
    if ids.numel() < 2:
        raise RnnkitError(f"{text_file} holds fewer than 2 {vocab.level} tokens")
    sections = units_sections(model.float(), vocab, ids, f"{Path(text_file).name}"
                              + (f" ({unknown} {vocab.level}s unknown to the vocabulary read as <unk>)" if unknown
                                 else ""))
    return page(f"rnnkit inspect: {Path(run).name} over {Path(text_file).name}", sections,
                f"checkpoint {path}").replace("</head>", css() + "</head>", 1)


def inspect_command(run: str, text_file: str, out: str | None) -> Path:
    """Write the page to ``out`` (default: ``inspect.html`` in the run directory) and return its path."""
    from rnnkit.outputs import check_output_path, write_atomic

    target = Path(out) if out else (Path(run) if Path(run).is_dir() else Path(run).parent) / "inspect.html"
    check_output_path(str(target), [run, text_file], [run], "--out")
    write_atomic(target, inspect_html(run, text_file))
    return target
