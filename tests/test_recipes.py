"""Every recipe in recipes/ loads, builds valid configs, and points at data that exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnkit import config as cfgmod
from rnnkit.models import LanguageModel
from rnnkit.models.sequence import SequenceModel
from rnnkit.tasks import memory
from rnnkit.tasks.lm import SECTIONS

from .conftest import DATA

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.toml"))


def test_there_are_recipes():
    assert {p.stem for p in RECIPES} >= {"tinyshakespeare", "ptb-small"}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_loads(path: Path):
    where, tables = cfgmod.load_recipe(str(path))
    if tables["task"] in memory.PROBLEMS:
        problem = tables["task"]
        configs = {name: cfgmod.merge(cls, tables.get(name, {}), {}, str(path), where.parent, name)
                   for name, cls in memory.sections(problem).items()}
        SequenceModel(memory.model_config(problem, configs["model"], configs["data"]))
        configs["train"].validate()
        return
    if tables["task"] == "classify":
        _check_classify_recipe(path, where, tables)
        return
    if tables["task"] == "tag":
        _check_tag_recipe(path, where, tables)
        return
    if tables["task"] in ("translate", "caption"):
        check_seq2seq_recipe(path, where.parent, tables)
        return
    if tables["task"] == "forecast":
        _check_forecast_recipe(path, where, tables)
        return
    if tables["task"] == "asr":
        _check_asr_recipe(path, where, tables)
        return
    if tables["task"] == "music":
        _check_music_recipe(path, where, tables)
        return
    assert tables["task"] == "lm"
    configs = {name: cfgmod.merge(cls, tables.get(name, {}), {}, str(path), where.parent)
               for name, cls in SECTIONS.items()}
    data = configs["data"]
    for f in (data.data, data.valid, data.test):
        if f is not None:
            assert Path(f).resolve().is_relative_to(DATA.resolve()), f
            if DATA.is_dir():
                assert Path(f).is_file(), f
    configs["model"].vocab_size = 100
    LanguageModel(configs["model"])  # the model section builds


def _check_asr_recipe(path: Path, where: Path, tables: dict) -> None:
    import dataclasses

    from rnnkit.models.recognizer import SpeechRecognizer
    from rnnkit.tasks import asr

    configs = {name: cfgmod.merge(cls, tables.get(name, {}), {}, str(path), where.parent, name)
               for name, cls in asr.sections().items()}
    data = configs["data"]
    asr.check_data(data, configs["audio"])
    assert Path(data.data).resolve().is_relative_to(DATA.resolve()), data.data
    if DATA.is_dir():
        assert Path(data.data).exists(), data.data
    SpeechRecognizer(dataclasses.replace(configs["model"], input_size=configs["audio"].size, vocab_size=12))
    configs["decode"].validate()
    configs["train"].validate()


def _check_music_recipe(path: Path, where: Path, tables: dict) -> None:
    """The sections build, the corpus is one music21 ships, the model builds."""
    import dataclasses

    from rnnkit.models.music import MusicModel
    from rnnkit.music.corpus import BUILTIN
    from rnnkit.tasks import music

    configs = {name: cfgmod.merge(cls, tables.get(name, {}), {}, str(path), where.parent, name)
               for name, cls in music.sections().items()}
    music.check_data(configs["data"])
    assert configs["data"].corpus in BUILTIN, configs["data"].corpus
    MusicModel(dataclasses.replace(configs["model"], vocab_size=60, n_metres=5, n_modes=2, n_tonics=1))
    configs["train"].validate()


def _check_classify_recipe(path: Path, where: Path, tables: dict) -> None:
    import dataclasses

    from rnnkit.models.classifier import SequenceClassifier
    from rnnkit.tasks import classify

    configs = {name: cfgmod.merge(cls, tables.get(name, {}), {}, str(path), where.parent, name)
               for name, cls in classify.sections().items()}
    data = configs["data"]
    classify.check_data(data, configs["audio"])
    for f in (data.data, data.valid, data.test):
        if f is not None:
            assert Path(f).resolve().is_relative_to(DATA.resolve()), f
            if DATA.is_dir():
                assert Path(f).exists(), f
    text = data.format in ("tsv", "csv", "label-sentence")
    SequenceClassifier(dataclasses.replace(configs["model"], vocab_size=100 if text else 0,
                                           input_size=0 if text else 12, num_classes=3))
    configs["train"].validate()


def check_seq2seq_recipe(path: Path, folder: Path, tables: dict) -> None:
    """translate / caption: the sections build, the model builds, the data files exist."""
    import dataclasses

    from rnnkit.models.captioner import Captioner
    from rnnkit.models.seq2seq import Seq2Seq
    from rnnkit.tasks import caption, translate

    module = translate if tables["task"] == "translate" else caption
    configs = {name: cfgmod.merge(cls, tables.get(name, {}), {}, str(path), folder, name)
               for name, cls in module.sections().items()}
    configs["train"].validate()
    configs["decode"].validate()
    if module is caption:
        caption.check_data(configs["data"])
        Captioner(dataclasses.replace(configs["model"], vocab_size=len(caption.VOCAB)))
        return
    translate.check_data(configs["data"])
    for f in dataclasses.fields(configs["data"]):
        value = getattr(configs["data"], f.name)
        if f.metadata.get("path") and value:
            assert Path(value).resolve().is_relative_to(DATA.resolve()), value
            if DATA.is_dir():
                assert Path(value).is_file(), value
    Seq2Seq(dataclasses.replace(configs["model"], src_vocab=100, tgt_vocab=100))


def _check_tag_recipe(path: Path, where: Path, tables: dict) -> None:
    import dataclasses

    from rnnkit.models.tagger import SequenceTagger
    from rnnkit.tasks import tag

    configs = {name: cfgmod.merge(cls, tables.get(name, {}), {}, str(path), where.parent, name)
               for name, cls in tag.SECTIONS.items()}
    data = configs["data"]
    tag.check_data_config(data)
    for f in (data.data, data.valid, data.test):
        if f is not None:
            assert Path(f).resolve().is_relative_to(DATA.resolve()), f
            if DATA.is_dir():
                assert Path(f).is_file(), f
    SequenceTagger(dataclasses.replace(configs["model"], vocab_size=100, num_chars=50, num_tags=9))
    configs["train"].validate()


def _check_forecast_recipe(path: Path, where: Path, tables: dict) -> None:
    """The sections build, the data file exists and reads, the spans fit, the model builds."""
    from rnnkit.models.forecaster import Forecaster
    from rnnkit.tasks import forecast

    configs = {name: cfgmod.merge(cls, tables.get(name, {}), {}, str(path), where.parent, name)
               for name, cls in forecast.sections().items()}
    data = configs["data"]
    forecast.check_data(data)
    configs["train"].validate()
    assert Path(data.data).resolve().is_relative_to(DATA.resolve()), data.data
    if DATA.is_dir():
        _, sp, _, prepared = forecast.setup(data, quiet=True)
        Forecaster(forecast.model_config(configs["model"], prepared, sp))


def test_the_readme_names_the_data_prefix_the_recipes_use():
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    said = re.search(r"The recipes in `recipes/` read their data from `([^`]*)/\.\.\.`", readme)
    assert said, "the README's sentence on where recipes read their data"
    paths = [m for p in RECIPES for m in re.findall(r'"([^"]*shared/data[^"]*)"', p.read_text(encoding="utf-8"))]
    assert paths and all(p.startswith(said.group(1) + "/") for p in paths), (said.group(1), paths[:3])
