"""The GitHub workflows parse and do what the README says they do."""

from __future__ import annotations

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
    assert "make test" in runs and "make lint" in runs and "chromium" in runs
    assert not any("pages" in u for u in uses(workflow["jobs"]["test"]))


def test_dependabot_watches_actions_and_pip():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert {u["package-ecosystem"] for u in config["updates"]} == {"github-actions", "pip"}
