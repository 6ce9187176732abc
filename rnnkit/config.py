"""Dataclass configs, their command-line flags, and recipe files.

Every concern has a small dataclass (``LMConfig``, ``TrainConfig``, ...). The CLI flags
are generated from the same dataclasses, so a flag and a config key can't drift apart:
field ``max_steps`` is flag ``--max-steps`` and TOML key ``max_steps``. The help text is
each field's ``metadata["help"]``.

Precedence: dataclass default < recipe file (``--config``) < flags given on the command line.
A recipe is a TOML file with one table per config section, e.g.::

    [data]
    data = "../shared/data/tinyshakespeare/input.txt"
    [model]
    hidden_size = 512
    [train]
    max_time = 900
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rnnkit.errors import RnnkitError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

def field(default: Any, help: str, choices: tuple[str, ...] | None = None, path: bool = False) -> Any:
    """A dataclass field with the help text (and choices) its CLI flag shows.

    ``path=True`` marks a file path: in a recipe it is relative to the recipe file.
    """
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices, "path": path})


def _base_type(tp: Any) -> tuple[type, bool]:
    """``(type, optional)`` for ``int``, ``float``, ``str``, ``bool`` and their ``X | None``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _parse_optional(tp: type):
    def parse(text: str) -> Any:
        if text.lower() in ("none", ""):
            return None
        return tp(text)

    parse.__name__ = tp.__name__
    return parse


def add_flags(parser: argparse.ArgumentParser, cls: type, title: str) -> None:
    """Add one ``--flag`` per field of dataclass ``cls``, in an argument group ``title``.

    Flags default to ``None`` (not given), so that a recipe file's values survive;
    the dataclass default is shown in the help.
    """
    group = parser.add_argument_group(title)
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if not f.metadata.get("help"):
            continue  # internal field, set by the task (e.g. vocab_size)
        tp, optional = _base_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        help_text = f.metadata["help"].replace("%", "%%")  # argparse %-formats help strings
        if default not in ("", None) and "default" not in help_text:
            help_text += f" (default: {default})"
        if tp is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                               help=help_text)
        else:
            group.add_argument(flag, dest=f.name, type=_parse_optional(tp) if optional else tp, default=None,
                               choices=f.metadata.get("choices"), help=help_text,
                               metavar=None if f.metadata.get("choices") else
                               "FILE" if f.metadata.get("path") else tp.__name__.upper())


def as_flags(message: str, *classes: type) -> str:
    """``message`` with the field names of ``classes`` written as their flags (``top_p`` -> ``--top-p``),
    for errors raised by a config that the user set from the command line."""
    import re

    for cls in classes:
        for f in dataclasses.fields(cls):
            if f.metadata.get("help"):
                message = re.sub(rf"(?<![\w-]){f.name}\b", "--" + f.name.replace("_", "-"), message)
    return message


def given_flags(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of ``cls`` that were given on the command line (a field without help has no flag: a
    flag of the same name in another section is not its)."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
            if f.metadata.get("help") and getattr(args, f.name, None) is not None}


def build(cls: type, values: dict[str, Any], source: str, section: str | None = None,
          internal: bool = False, flagged: Iterable[str] = ()) -> Any:
    """``cls(**values)`` with type checks; ``source`` names where the values came from,
    ``section`` the recipe table they belong to (default: the class name). Fields without
    help (set by a task, e.g. ``vocab_size``) are accepted only with ``internal=True``
    (a saved run's config), never from a recipe. A value named in ``flagged`` came from the command
    line: its errors name the flag (``--init-range``), not the key."""
    flagged = set(flagged)
    hints = _hints(cls)
    names = {f.name: f for f in dataclasses.fields(cls)}
    clean: dict[str, Any] = {}
    for key, value in values.items():
        # on the command line a value is known by its flag (--init-range), in a file by its key
        said = "--" + key.replace("_", "-") if key in flagged else f"{source}: {key}"
        # a field without help is set by the task (vocab_size), never by a user
        moved = names[key].metadata.get("moved") if key in names else None
        if moved and not internal:  # an option that now lives in another table (older recipes)
            raise RnnkitError(f"{source}: {key!r} is an option of [{moved}] now, not [{section or cls.__name__}]; "
                              f"move it there")
        if key not in names or not (internal or names[key].metadata.get("help")):
            known = sorted(n for n, f in names.items() if f.metadata.get("help"))
            raise RnnkitError(f"{source}: unknown key {key!r} in [{section or cls.__name__}]; "
                              f"expected one of {', '.join(known)}")
        tp, optional = _base_type(hints[key])
        if value is None and optional:
            clean[key] = None
            continue
        if tp is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise RnnkitError(f"{said} must be {tp.__name__}, got {value!r}")
        # nan slips through every "must be > 0" check (all comparisons are false); torch takes 64-bit ints only
        if tp is float and not math.isfinite(value):
            raise RnnkitError(f"{said} must be a finite number, got {value}")
        if tp is int and not -(2**63) <= value < 2**63:
            raise RnnkitError(f"{said} {value} is out of range (at most 19 digits)")
        choices = names[key].metadata.get("choices")
        if choices and value not in choices:
            raise RnnkitError(f"{said} must be one of {', '.join(choices)}, got {value!r}")
        clean[key] = value
    return cls(**clean)


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def load_recipe(path_text: str) -> tuple[Path, dict[str, Any]]:
    """Read a recipe TOML file: ``(path, {section: {key: value}})``."""
    path = Path(path_text)
    if not path.is_file():
        raise RnnkitError(f"recipe {path}: no such file")
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise RnnkitError(f"recipe {path}: not valid TOML: {e}") from None
    for key, value in tables.items():
        if key != "task" and not isinstance(value, dict):
            raise RnnkitError(f"recipe {path}: top-level key {key!r} must be a [table]")
    return path, tables


def merge(cls: type, recipe: dict[str, Any], flags: dict[str, Any], source: str,
          recipe_dir: Path | None = None, section: str | None = None) -> Any:
    """Defaults < recipe values < flags, as a ``cls`` instance.

    Path fields taken from the recipe are made relative to ``recipe_dir``.
    """
    recipe = dict(recipe)
    if recipe_dir is not None:
        for f in dataclasses.fields(cls):
            value = recipe.get(f.name)
            if f.metadata.get("path") and isinstance(value, str) and value and not Path(value).is_absolute():
                recipe[f.name] = str(recipe_dir / value)
    return build(cls, {**recipe, **flags}, source, section, flagged=flags)
