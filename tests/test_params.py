"""Profiles, overrides and notebook parameters are validated with clear messages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from fmnist import params
from fmnist.params import ParamsError, load_profile


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["default", "quick", "accurate"])
def test_shipped_profiles_are_valid(name):
    profile = load_profile(ROOT / "params" / f"{name}.yaml")
    assert profile.name == name
    assert set(profile.sections) == set(params.CHAPTERS)


def test_default_profile_spells_out_the_schema_defaults():
    raw = yaml.safe_load((ROOT / "params" / "default.yaml").read_text())
    defaults = params.profile_from_mapping({}, "defaults").as_dict()
    assert raw == defaults


def test_unknown_key_suggests_the_closest_name(tmp_path):
    with pytest.raises(ParamsError, match=r"unknown key `cnn.epoch`.*Did you mean `epochs`"):
        load_profile(write(tmp_path, "cnn:\n  epoch: 3\n"))


def test_unknown_section_suggests_the_closest_name(tmp_path):
    with pytest.raises(ParamsError, match=r"unknown section or key `tunning`.*`tuning`"):
        load_profile(write(tmp_path, "tunning: {}\n"))


@pytest.mark.parametrize("text, fragment", [
    ("cnn:\n  epochs: three\n", "`cnn.epochs` must be an integer > 0; got 'three'"),
    ("cnn:\n  epochs: 0\n", "`cnn.epochs` must be an integer > 0; got 0"),
    ("dense:\n  epochs: -2\n", "`dense.epochs` must be an integer > 0"),
    ("dense:\n  dropout: 1.0\n", "`dense.dropout` must be a number in [0, 1)"),
    ("tuning:\n  max_trials: 0\n", "`tuning.max_trials` must be an integer > 0"),
    ("tuning:\n  filters_choices: []\n", "`tuning.filters_choices` must be a non-empty list"),
    ("tuning:\n  algorithm: grid\n", "random, hyperband or bayesian"),
    ("seed: 1.5\n", "`seed` must be an integer >= 0; got 1.5"),
    ("seed: true\n", "`seed` must be an integer >= 0; got True"),
    ("data:\n  train_subset: 70000\n", "`data.train_subset` must be null or an integer"),
    ("data:\n  train_subset: 1000\ntuning:\n  search_subset: 5000\n", "larger than the training"),
    ("tuning:\n  dropout_range: [0.5, 0.2, 0.1]\n", "`tuning.dropout_range` must be"),
    ("cnn:\n  batch_norm: after\n", "`cnn.batch_norm` must be true, false, none, conv or pool"),
    ("cnn:\n  batch_norm: 1\n", "`cnn.batch_norm` must be true, false, none, conv or pool"),
])
def test_bad_values_name_file_key_and_allowed(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ParamsError) as err:
        load_profile(path)
    assert fragment in str(err.value)
    assert str(path) in str(err.value)


def test_malformed_yaml_not_a_mapping_and_missing_file(tmp_path):
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_profile(write(tmp_path, "cnn: [1, 2\n"))
    with pytest.raises(ParamsError, match="must be a mapping"):
        load_profile(write(tmp_path, "- 1\n- 2\n"))
    with pytest.raises(ParamsError, match="params file not found"):
        load_profile(tmp_path / "nope.yaml")


def test_python_tags_are_rejected_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    text = f"seed: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_profile(write(tmp_path, text))
    assert not marker.exists()


def test_overrides_are_parsed_and_validated():
    profile = load_profile(ROOT / "params" / "quick.yaml", ["cnn.epochs=7", "seed=3"])
    assert profile.sections["cnn"].epochs == 7
    assert profile.shared.seed == 3
    with pytest.raises(ParamsError, match="expected KEY=VALUE"):
        load_profile(ROOT / "params" / "quick.yaml", ["cnn.epochs"])
    with pytest.raises(ParamsError, match=r"--set cnn.epochs=-1.*`cnn.epochs` must be"):
        load_profile(ROOT / "params" / "quick.yaml", ["cnn.epochs=-1"])
    with pytest.raises(ParamsError, match="Did you mean `dropout`"):
        load_profile(ROOT / "params" / "quick.yaml", ["cnn.dropot=0.2"])


def test_chapter_parameters_merge_shared_and_section():
    profile = load_profile(ROOT / "params" / "quick.yaml")
    values = profile.chapter("cnn")
    assert values["seed"] == 42 and values["epochs"] == 1
    assert profile.digest() == load_profile(ROOT / "params" / "quick.yaml").digest()
    assert profile.digest() != load_profile(ROOT / "params" / "quick.yaml", ["seed=1"]).digest()


def test_notebook_namespace_validation_matches_profile_messages():
    namespace = {"seed": 1, "data_dir": None, "results_dir": "results", "epochs": 0,
                 "dataclasses": dataclasses}
    with pytest.raises(ParamsError, match="`epochs` must be an integer > 0"):
        params.from_namespace("cnn", namespace)
    with pytest.raises(ParamsError, match="unknown key `epoch`"):
        params.from_namespace("cnn", {"epoch": 3})
    shared, section = params.from_namespace("cnn", {"seed": 5, "epochs": 2})
    assert shared.seed == 5 and section.epochs == 2 and section.filters == [32, 64]
