"""Dataclass configs -> flags -> recipes: precedence, types, paths, errors."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from rnnkit import config as cfgmod
from rnnkit.config import field
from rnnkit.errors import RnnkitError


@dataclasses.dataclass
class Demo:
    data: str = field("", "a file", path=True)
    size: int = field(8, "a size")
    rate: float = field(0.5, "a rate")
    kind: str = field("a", "a kind", choices=("a", "b"))
    flag: bool = field(False, "a switch")
    maybe: int | None = field(None, "optional")
    hidden: int = 0  # no help: not a flag


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    cfgmod.add_flags(p, Demo, "demo")
    return p.parse_args(list(argv))


def test_flags_from_fields():
    args = parse("--size", "3", "--rate", "2", "--kind", "b", "--flag", "--maybe", "none")
    assert cfgmod.given_flags(args, Demo) == {"size": 3, "rate": 2.0, "kind": "b", "flag": True}
    assert not hasattr(args, "hidden")
    with pytest.raises(SystemExit):
        parse("--kind", "c")
    assert parse("--no-flag").flag is False


def test_precedence_default_recipe_flags(tmp_path: Path):
    recipe = {"size": 4, "rate": 1, "data": "text.txt"}
    cfg = cfgmod.merge(Demo, recipe, {"size": 5}, "test", recipe_dir=tmp_path)
    assert cfg.size == 5 and cfg.rate == 1.0 and cfg.kind == "a"
    assert cfg.data == str(tmp_path / "text.txt")  # recipe paths are relative to the recipe
    assert cfgmod.merge(Demo, {}, {"data": "x.txt"}, "t", tmp_path).data == "x.txt"  # flags: relative to cwd


def test_bad_values_name_the_source():
    with pytest.raises(RnnkitError, match="recipe r.toml: unknown key 'sise'"):
        cfgmod.build(Demo, {"sise": 3}, "recipe r.toml")
    with pytest.raises(RnnkitError, match="size must be int"):
        cfgmod.build(Demo, {"size": "3"}, "x")
    with pytest.raises(RnnkitError, match="size must be int"):
        cfgmod.build(Demo, {"size": True}, "x")
    with pytest.raises(RnnkitError, match="kind must be one of a, b"):
        cfgmod.build(Demo, {"kind": "z"}, "x")


def test_load_recipe_errors(tmp_path: Path):
    with pytest.raises(RnnkitError, match="no such file"):
        cfgmod.load_recipe(str(tmp_path / "none.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\nx=1")
    with pytest.raises(RnnkitError, match="not valid TOML"):
        cfgmod.load_recipe(str(bad))
    flat = tmp_path / "flat.toml"
    flat.write_text("size = 3\n")
    with pytest.raises(RnnkitError, match="must be a \\[table\\]"):
        cfgmod.load_recipe(str(flat))
