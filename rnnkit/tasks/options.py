"""A task's configuration on the command line: flags from its config sections, a recipe, a saved run."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from rnnkit import config as cfgmod
from rnnkit.errors import RnnkitError
from rnnkit.tasks import runs


def add_train_flags(p: Any, sections: dict[str, type], task: str) -> None:
    """``--config``, ``--out``, ``--resume`` and one flag per field of every section."""
    p.add_argument("--config", metavar="FILE", help="recipe TOML file (one table per options group below: "
                   f"{', '.join(f'[{s}]' for s in sections)}); flags given here override it")
    p.add_argument("--out", metavar="DIR", help=f"run directory (default: runs/{task}-<date>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    for name, cls in sections.items():
        cfgmod.add_flags(p, cls, f"{name} options")


def _user_fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.metadata.get("help")}


def _path_fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.metadata.get("path")}


def _absolute(value: Any, run_dir: Path | None = None) -> Any:
    """A path option as an absolute path, so that a saved run finds its data again from any directory
    (``--resume`` from elsewhere). A relative one of an older run's config.json (``run_dir`` given)
    is taken relative to the current directory as before, else relative to the run directory."""
    if not isinstance(value, str) or not value or Path(value).is_absolute():
        return value
    if run_dir is not None and not Path(value).exists() and (run_dir / value).exists():
        return os.path.abspath(run_dir / value)
    return os.path.abspath(value)


def resolve_configs(args: Any, task: str, sections: dict[str, type]) -> tuple[Path, dict[str, Any], bool]:
    """``(run_dir, {section: config}, resume)`` from recipe, saved run config and flags.

    New run: defaults < recipe (``--config``) < flags. Resume: the run's saved
    ``config.json`` < flags (a changed option is reported).
    """
    recipe: dict[str, Any] = {}
    recipe_dir = None
    if args.config:
        path, recipe = cfgmod.load_recipe(args.config)
        recipe_dir = path.parent
        if recipe.get("task", task) != task:
            raise RnnkitError(f"recipe {path} is for task {recipe['task']!r}, not {task!r}")
        unknown = set(recipe) - set(sections) - {"task"}
        if unknown:
            raise RnnkitError(f"recipe {path}: unknown table(s) {', '.join(sorted(unknown))}; "
                              f"expected {', '.join(sections)}")
    if args.resume and not args.out:
        raise RnnkitError("--resume needs --out DIR: the run to continue")
    run_dir = Path(args.out) if args.out else runs.default_run_dir(task)
    saved = runs.prepare(run_dir, args.resume)
    if saved is not None and saved.get("task", task) != task:
        raise RnnkitError(f"{run_dir} holds a {saved.get('task')!r} run, not {task!r}")
    configs = {}
    for name, cls in sections.items():
        flags = cfgmod.given_flags(args, cls)
        paths = _path_fields(cls)
        flags = {k: _absolute(v) if k in paths else v for k, v in flags.items()}
        if saved is not None:
            # fields without a flag (vocab_size, ...) are set again by the task from its data
            section = saved.get(name, {})
            if not isinstance(section, dict):  # a hand-edited or damaged config.json
                raise RnnkitError(f"{run_dir}/config.json: [{name}] must be an object of options, got "
                                  f"{json.dumps(section)[:60]}; fix the file or start a new run with another --out")
            base = {k: _absolute(v, run_dir) if k in paths else v for k, v in section.items() if k in _user_fields(cls)}
            changed = {k: v for k, v in flags.items() if base.get(k) != v}
            if changed and name == "model":  # the checkpoint holds this model's weights: refused before any write
                k, v = next(iter(changed.items()))
                raise RnnkitError(f"--resume: --{k.replace('_', '-')} {v} differs from the run's {base.get(k)!r}: a "
                                  f"resumed run keeps its model options; drop the flag, or start a new run with "
                                  f"another --out")
            if changed:
                print(f"note: resuming with changed {name} options {changed}; the result may differ from an "
                      f"uninterrupted run", file=sys.stderr)
            configs[name] = cfgmod.build(cls, {**base, **flags}, f"{run_dir}/config.json", name, flagged=flags)
        else:
            merged = cfgmod.merge(cls, recipe.get(name, {}), flags,
                                  f"recipe {args.config}" if args.config else "flags", recipe_dir, name)
            configs[name] = dataclasses.replace(merged, **{k: _absolute(getattr(merged, k)) for k in paths})
    return run_dir, configs, bool(args.resume)
