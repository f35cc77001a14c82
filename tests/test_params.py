"""Profiles, overrides and notebook parameters are validated with clear messages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from fmnist import chapters, params
from fmnist.params import load_profile
from fmnist.schema import CnnParams, ParamsError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["default", "quick", "larger", "original"])
def test_shipped_profiles_are_valid(name):
    profile = load_profile(ROOT / "params" / f"{name}.yaml")
    assert profile.name == name
    assert set(profile.sections) == set(chapters.SLUGS)


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
    ("tuning:\n  space: {}\n", "`tuning.space` must be a mapping of cnn keys to non-empty"),
    ("tuning:\n  space: {epochs: [5, 10]}\n", "`tuning.space.epochs` cannot be searched. It is"),
    ("tuning:\n  space: {dropot: [0.1]}\n", "Did you mean `dropout`?"),
    ("tuning:\n  space: {dropout: [0.2, 1.5]}\n",
     "candidate 2 of `tuning.space.dropout` must be a number in [0, 1); got 1.5"),
    ("cnn:\n  filters: [8, 16, 32]\n  kernel_size: [3, 5, 3]\n"
     "tuning:\n  space: {filters: [[8, 16]]}\n",
     "as many blocks as every `kernel_size`"),
    ("cnn:\n  filters: [8, 16, 32]\n  kernel_size: [3, 3]\n", "one kernel size per conv block"),
    ("cnn:\n  epochs: 2\n  warmup_epochs: 2\n", "`cnn.warmup_epochs` (2.0) must be smaller"),
    ("dense:\n  ema_momentum: 0.5\n", "`dense.ema_momentum` must be 0, or a number in [0.9, 1)"),
    ("cnn:\n  augment_shift: 9\n", "`cnn.augment_shift` must be an integer in [0, 4]"),
    ("cnn:\n  head: avg\n", "`cnn.head` must be flatten or gap"),
    ("tuning:\n  algorithm: grid\n", "random, hyperband or bayesian"),
    ("seed: 1.5\n", "`seed` must be an integer >= 0; got 1.5"),
    ("seed: true\n", "`seed` must be an integer >= 0; got True"),
    ("data:\n  train_subset: 70000\n", "`data.train_subset` must be null or an integer"),
    ("data:\n  train_subset: 1000\ntuning:\n  search_subset: 5000\n", "larger than the training"),
    ("cnn:\n  batch_norm: after\n", "`cnn.batch_norm` must be none, conv or pool"),
    ("cnn:\n  batch_norm: 1\n", "`cnn.batch_norm` must be none, conv or pool"),
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
    assert shared.seed == 5 and section.epochs == 2
    assert section.filters == CnnParams().filters


def test_tuning_chapter_receives_the_cnn_section_and_checks_its_space_against_it():
    profile = load_profile(ROOT / "params" / "quick.yaml")
    values = profile.chapter("tuning")
    assert values["cnn_params"] == dataclasses.asdict(profile.sections["cnn"])
    # Of the data section, only the split's keys: the sample grid changes nothing it computes.
    assert values["data_params"] == {"val_fraction": 0.1, "train_subset": 3000}
    assert params.read_section("tuning", "cnn", values) == profile.sections["cnn"]
    bad = {**values, "space": {"filters": [[8, 16, 32]], "kernel_size": [[3, 3]]}}
    with pytest.raises(ParamsError, match="as many blocks"):
        params.read_section("tuning", "cnn", bad)
    deeper = {**values, "space": {"filters": [[8, 16], [8, 16, 32]]}}  # one kernel size: fine
    assert params.read_section("tuning", "cnn", deeper) == profile.sections["cnn"]
    with pytest.raises(ParamsError, match="`cnn_params` must be a mapping"):
        params.read_section("tuning", "cnn", {**values, "cnn_params": 3})


def test_the_original_profile_is_the_original_study():
    profile = load_profile(ROOT / "params" / "original.yaml")
    base, dense, cnn, tuning = (profile.sections[k] for k in ("baseline", "dense", "cnn",
                                                               "tuning"))
    assert (base.solvers, base.max_iter, base.require_convergence) == (["saga"], 100, False)
    assert (dense.units, dense.epochs, cnn.filters, cnn.epochs) == ([128, 64], 10, [32, 64], 10)
    assert cnn.batch_norm == "none" and cnn.label_smoothing == 0 and cnn.ema_momentum == 0
    assert (tuning.algorithm, tuning.max_trials, tuning.trial_epochs) == ("random", 5, 5)
    assert len(tuning.space["filters"]) == 9 and len(tuning.space["kernel_size"]) == 4


def test_a_setting_of_the_data_chapters_figure_leaves_the_model_chapters_alone():
    profile = load_profile(ROOT / "params" / "quick.yaml")
    grid = load_profile(ROOT / "params" / "quick.yaml", ["data.samples_per_class=2"])
    split = load_profile(ROOT / "params" / "quick.yaml", ["data.val_fraction=0.2"])
    assert grid.chapter("data") != profile.chapter("data")
    for slug in ("baseline", "dense", "cnn", "tuning"):
        assert grid.chapter(slug) == profile.chapter(slug), slug
        assert split.chapter(slug) != profile.chapter(slug), slug


def test_a_number_in_scientific_notation_is_a_number_wherever_yaml_reads_it():
    # YAML 1.1 reads `1e-5` (no dot) as text; a learning rate written so is still a number.
    profile = load_profile(ROOT / "params" / "quick.yaml",
                           ["cnn.learning_rate=1e-5", "tuning.space={learning_rate: [1e-5, 2E-3]}"])
    assert profile.sections["cnn"].learning_rate == 1e-5
    assert profile.sections["tuning"].space["learning_rate"] == [1e-5, 2e-3]
    with pytest.raises(ParamsError, match="`cnn.learning_rate` must be a number > 0; got 'fast'"):
        load_profile(ROOT / "params" / "quick.yaml", ["cnn.learning_rate=fast"])
