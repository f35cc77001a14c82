"""The run history: runs recorded from the results folder, compared on validation first."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import ROOT
from scipy.stats import binomtest
from test_compare import plant

from fmnist import cli, params, runs, site
from fmnist.schema import ParamsError

N_VAL = 100


def profile(*overrides: str) -> params.Profile:
    return params.load_profile(ROOT / "params" / "default.yaml", list(overrides))


def rerun(results, slug: str, test_wrong: int, val_wrong: int) -> None:
    """A model chapter's results: right on all but the first `*_wrong` images."""
    plant(results, slug, np.r_[np.zeros(test_wrong, bool), np.ones(200 - test_wrong, bool)],
          val_accuracy=1 - val_wrong / N_VAL)
    y = np.arange(N_VAL) % 10
    runs.save_validation(results / slug, np.where(np.arange(N_VAL) < val_wrong, (y + 1) % 10, y),
                         y)


def test_a_rerun_is_compared_on_validation_with_mcnemars_paired_test(tmp_path):
    rerun(tmp_path, "baseline", 40, 20)
    rerun(tmp_path, "cnn", 20, 12)
    first = runs.record_run(tmp_path, profile(), ["baseline", "cnn"], keep=20)
    assert first.record["changed"] == {} and first.record["models"]["cnn"]["reran"]
    rerun(tmp_path, "cnn", 10, 2)  # right on 10 more validation images, wrong on none new
    second = runs.record_run(tmp_path, profile("cnn.epochs=5"), ["cnn"], keep=20)
    assert second.record["changed"] == {"cnn.epochs": [15, 5]}
    assert second.record["reran"] == ["cnn"]
    assert not second.record["models"]["baseline"]["reran"]
    (change,) = runs.compare(first, second, only_reran=True)
    # Recomputed with SciPy: 10 discordant validation images, all in the second run's favour.
    assert change.val_p == pytest.approx(binomtest(10, 10, 0.5).pvalue)
    assert change.test_p == pytest.approx(binomtest(10, 10, 0.5).pvalue)
    assert runs.after_run_lines(tmp_path) == [
        f"cnn: validation 88.00 -> 98.00 % (+10.00, p = {change.val_p:.2g}: beyond noise)"]
    low, high = second.record["models"]["cnn"]["val_accuracy_ci95"]
    assert low < 0.98 < high


def test_a_change_within_noise_says_so(tmp_path):
    rerun(tmp_path, "dense", 20, 12)
    first = runs.record_run(tmp_path, profile(), ["dense"], keep=20)
    rerun(tmp_path, "dense", 20, 11)
    second = runs.record_run(tmp_path, profile(), ["dense"], keep=20)
    (change,) = runs.compare(first, second)
    assert change.val_p == pytest.approx(1.0) and change.beyond_noise is False
    assert runs.change_line(change).endswith("(+1.00, p = 1: within noise)")


def test_a_run_that_ran_no_model_chapter_is_not_recorded(tmp_path):
    rerun(tmp_path, "cnn", 20, 12)
    assert runs.record_run(tmp_path, profile(), ["data", "comparison"], keep=20) is None
    assert runs.load_runs(tmp_path) == ([], [])


def test_the_history_stops_at_its_bound_and_names_a_damaged_entry(tmp_path):
    rerun(tmp_path, "cnn", 20, 12)
    made = [runs.record_run(tmp_path, profile(), ["cnn"], keep=3).id for _ in range(4)]
    history, damaged = runs.load_runs(tmp_path)
    assert [r.id for r in history] == made[1:] and damaged == []
    (history[1].path / runs.RUN_RECORD).write_text("{ not json")
    history, damaged = runs.load_runs(tmp_path)
    assert [r.id for r in history] == [made[1], made[3]]
    assert len(damaged) == 1 and made[2] in damaged[0] and "skipped" in damaged[0]
    # A damaged entry counts towards the bound like any other and leaves with the oldest.
    runs.record_run(tmp_path, profile(), ["cnn"], keep=2)
    history, damaged = runs.load_runs(tmp_path)
    assert len(history) == 2 and damaged == []


def test_an_unpaired_validation_split_gives_no_test(tmp_path):
    rerun(tmp_path, "cnn", 20, 12)
    first = runs.record_run(tmp_path, profile(), ["cnn"], keep=20)
    y = (np.arange(N_VAL) + 3) % 10  # another split: other true labels
    runs.save_validation(tmp_path / "cnn", y, y)
    second = runs.record_run(tmp_path, profile(), ["cnn"], keep=20)
    (change,) = runs.compare(first, second)
    assert change.val_p is None and "not paired" in runs.change_line(change)


def test_runs_are_found_by_number_or_date_and_a_wrong_key_lists_them(tmp_path):
    rerun(tmp_path, "cnn", 20, 12)
    made = [runs.record_run(tmp_path, profile(), ["cnn"], keep=20) for _ in range(2)]
    history, _ = runs.load_runs(tmp_path)
    assert runs.find(history, "2").id == made[1].id
    assert runs.find(history, made[0].id).id == made[0].id
    with pytest.raises(runs.RunHistoryError, match=r"`7` is no run; the history holds: 1 \("):
        runs.find(history, "7")


def test_a_run_record_is_plain_json_beside_small_predictions(tmp_path):
    rerun(tmp_path, "cnn", 20, 12)
    run = runs.record_run(tmp_path, profile(), ["cnn"], keep=20)
    record = json.loads((run.path / runs.RUN_RECORD).read_text())
    assert record["params_hash"] == profile().digest() and record["profile"] == "default"
    assert set(run.predictions) == {"cnn/test", "y_test", "cnn/val", "y_val"}
    assert run.predictions["cnn/val"].dtype == np.uint8
    assert not any(p.name.startswith(".") for p in (tmp_path / runs.RUNS_DIR).iterdir())


def test_fmnist_runs_lists_and_compares_with_the_same_paired_tests(tmp_path, capsys):
    rerun(tmp_path, "cnn", 20, 12)
    first = runs.record_run(tmp_path, profile(), ["cnn"], keep=20)
    rerun(tmp_path, "cnn", 20, 7)
    runs.record_run(tmp_path, profile("cnn.epochs=5"), ["cnn"], keep=20)
    rerun(tmp_path, "cnn", 10, 2)
    third = runs.record_run(tmp_path, profile("cnn.epochs=15"), ["cnn"], keep=20)
    assert cli.show_runs(tmp_path, []) == 0
    listing = capsys.readouterr().out
    assert listing.startswith(runs.WHY_VALIDATION)
    assert "  1  " in listing and "  3  " in listing and "cnn.epochs 15 -> 5" in listing
    assert cli.show_runs(tmp_path, ["1", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    (change,) = runs.compare(first, third)
    assert out[1] == "changed: no parameter"  # 15 epochs again: the profiles are the same
    assert out[3] == f"  {runs.change_line(change)}"
    assert out.index(out[3]) < out.index(
        "test, for the record (choose on validation, never on the test set):")


def test_fmnist_runs_refuses_one_run_or_an_unknown_one(tmp_path, capsys):
    assert cli.main(["--root", str(ROOT), "runs", "1"]) == 2
    assert "takes no run (to list them) or two" in capsys.readouterr().err
    rerun(tmp_path, "cnn", 20, 12)
    runs.record_run(tmp_path, profile(), ["cnn"], keep=20)
    with pytest.raises(ParamsError, match="`9` is no run; the history holds: 1"):
        cli.show_runs(tmp_path, ["1", "9"])


def test_the_runs_page_and_its_landing_link_come_from_the_history(tmp_path):
    rerun(tmp_path, "cnn", 20, 12)
    runs.record_run(tmp_path, profile(), ["cnn"], keep=20)
    body, link = site.runs_markdown(tmp_path, tmp_path)
    assert link == "" and "## Run 1:" in body and "nothing to compare with" in body
    rerun(tmp_path, "cnn", 10, 2)
    runs.record_run(tmp_path, profile("cnn.epochs=5"), ["cnn"], keep=20)
    body, link = site.runs_markdown(tmp_path, tmp_path)
    assert "holds 2 runs" in link and "(runs.md)" in link
    assert (tmp_path / "runs_validation.png").is_file()
    assert ":alt: Validation accuracy across runs." in body
    # Newest first, validation's columns before the test's.
    assert body.index("## Run 2:") < body.index("## Run 1:")
    assert "`cnn.epochs` 15 → 5" in body
    header = next(line for line in body.splitlines() if line.startswith("| model |"))
    assert header.index("p (validation)") < header.index("test, for the record")
    assert "| CNN | 88.00 → 98.00 % | +10.00 |" in body
