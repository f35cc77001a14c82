"""The GitHub workflows parse and do what the README says they do."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    # YAML reads the key `on` as True.
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True)
    return workflow


def uses(job: dict) -> list[str]:
    return [step["uses"] for step in job["steps"] if "uses" in step]


def test_publish_grants_pages_rights_to_the_deploy_job_only():
    workflow = load("publish.yml")
    assert workflow["permissions"] == {"contents": "read"}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert "permissions" not in build
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["needs"] == "build" and uses(deploy) == ["actions/deploy-pages@v5"]


def test_publish_reuses_results_keeps_failures_and_rebuilds_weekly():
    workflow = load("publish.yml")
    assert set(workflow["on"]) == {"push", "schedule", "workflow_dispatch"}
    steps = workflow["jobs"]["build"]["steps"]
    restore = next(s for s in steps if s.get("uses", "").startswith("actions/cache/restore"))
    assert restore["with"]["path"] == "results" and restore["if"] == \
        "github.event_name != 'schedule'"
    assert "src/**" in restore["with"]["key"] and restore["with"]["restore-keys"] == "results-"
    failed = next(s for s in steps if s.get("if") == "failure()")
    assert "results/notebooks/" in failed["with"]["path"] and "report.log" in failed["with"]["path"]
    assert any("fmnist data" in s.get("run", "") for s in steps), "the data cache fills"
    assert "actions/upload-pages-artifact@v5" in uses(workflow["jobs"]["build"])


def test_pull_requests_run_the_tests_and_deploy_nothing():
    workflow = load("test.yml")
    assert "pull_request" in workflow["on"] and workflow["permissions"] == {"contents": "read"}
    runs = " ".join(s.get("run", "") for s in workflow["jobs"]["test"]["steps"])
    assert "make test" in runs and "make lint" in runs
    assert not any("pages" in u for u in uses(workflow["jobs"]["test"]))





def test_pull_requests_use_the_runners_browser_and_cancel_superseded_runs():
    workflow = load("test.yml")
    runs = " ".join(s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"])
    assert "apt-get" not in runs, "Ubuntu's chromium package is a snap; the runner has Chrome"
    assert workflow["concurrency"]["cancel-in-progress"] == \
        "${{ github.event_name == 'pull_request' }}"


def test_a_job_installs_as_colab_does_on_a_newer_python_without_the_lock():
    job = load("test.yml")["jobs"]["unpinned"]
    python = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == "3.12"
    runs = [s.get("run", "") for s in job["steps"]]
    assert any("pip install '.[report,dev]'" in r for r in runs)
    assert not any("requirements" in r or "make env" in r for r in runs)
    assert any('pytest -m "not slow"' in r for r in runs)


def test_deploys_come_from_the_default_branch_and_name_its_repository():
    workflow = load("publish.yml")
    assert workflow["jobs"]["deploy"]["if"] == \
        "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
    runs = [s.get("run", "") for s in workflow["jobs"]["build"]["steps"]]
    assert any(r.startswith(".venv/bin/fmnist repository --check") and "github.repository" in r
               for r in runs)
    keys = [s["with"]["key"] for s in workflow["jobs"]["build"]["steps"]
            if s.get("uses", "").startswith("actions/cache/") and s["with"]["path"] == "results"]
    assert len(keys) == 2 and all("requirements.lock" in k for k in keys)


def test_the_lock_is_renewed_by_a_tested_pull_request():
    workflow = load("lock.yml")
    assert "schedule" in workflow["on"]
    runs = "\n".join(s.get("run", "") for s in workflow["jobs"]["relock"]["steps"])
    assert runs.index("make lock") < runs.index("make lint test") < runs.index("gh pr create")
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert [u["package-ecosystem"] for u in config["updates"]] == ["github-actions"]


@pytest.mark.parametrize("files, schema", [
    (sorted(WORKFLOWS.glob("*.yml")), "vendor.github-workflows"),
    ([ROOT / ".github" / "dependabot.yml"], "vendor.dependabot"),
], ids=["workflows", "dependabot"])
def test_the_workflows_validate_against_githubs_schemas(files, schema, tmp_path):
    check = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema]
    proc = subprocess.run([*check, *map(str, files)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    broken = tmp_path / "broken.yml"  # the check can fail: a job without `runs-on`
    broken.write_text("on: push\njobs:\n  x:\n    steps:\n      - run: true\n")
    if schema == "vendor.github-workflows":
        assert subprocess.run([*check, str(broken)], capture_output=True).returncode != 0
