"""The GitHub workflows do what they say on every event they run on.

GitHub is out of reach here, so each workflow is run on paper: its `if:` conditions and its
`${{ }}` expressions are evaluated (`workflow_expressions`) against the payloads GitHub sends for
each event it names (`tests/events/`), and the tests check what would happen: which jobs and
steps run, with what rights, and what every expression writes.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT
from workflow_expressions import ExpressionError, condition, evaluate, interpolate, interpolations

WORKFLOWS = ROOT / ".github" / "workflows"
EVENTS = Path(__file__).parent / "events"
DEFAULT_BRANCH = "main"
# What every run's `github` context holds, whatever its event.
EVERY_RUN = {
    "repository": "fmnist-report/fmnist-report", "repository_owner": "fmnist-report",
    "server_url": "https://github.com", "api_url": "https://api.github.com",
    "run_id": "16011112222", "run_number": "42", "run_attempt": "1", "actor": "someone",
    "token": "ghs_recorded", "workspace": "/home/runner/work/fmnist-report/fmnist-report",
}
# The outputs each action the workflows use documents (with a value a run could give).
ACTION_OUTPUTS = {
    "actions/deploy-pages": {"page_url": "https://fmnist-report.github.io/fmnist-report/"},
    "actions/cache/restore": {"cache-hit": "false", "cache-primary-key": "results-0",
                              "cache-matched-key": "results-0"},
    "actions/cache": {"cache-hit": "false"},
    "actions/setup-python": {"python-version": "3.11.9", "cache-hit": "false"},
    "actions/upload-artifact": {"artifact-id": "1", "artifact-url": "https://github.com/a"},
    "actions/download-artifact": {"download-path": "/home/runner/work/x"},
}
# Commands that run code pip installed (or the project's own): never with write rights.
RUNS_INSTALLED_CODE = re.compile(r"(?:^|&&|\|\||;|\|)\s*(?:make|pip|pytest|python\S*|\.venv/bin/)",
                                 re.M)


def load(name: str, folder: Path = WORKFLOWS) -> dict:
    # YAML reads the key `on` as True.
    workflow = yaml.safe_load((folder / name).read_text())
    workflow["on"] = workflow.pop(True)
    return workflow


def event_context(event: str, **changes: Any) -> dict[str, Any]:
    """The `github` context of a run on `event`, from its recorded payload; `changes` replace
    top-level fields (a run on another branch)."""
    path = EVENTS / f"{event}.json"
    if not path.is_file():
        raise AssertionError(f"no recorded payload for the `{event}` event: add {path} with the "
                             "fields GitHub documents for it")
    return {**EVERY_RUN, **json.loads(path.read_text()), **changes}


def uses(step: dict) -> str:
    return step.get("uses", "").split("@")[0]


def permissions(workflow: dict, job: dict) -> dict[str, str]:
    granted = job.get("permissions", workflow.get("permissions", "write-all"))
    if isinstance(granted, str):  # read-all / write-all
        return {"all": granted.split("-")[0]}
    return granted or {}


def can_write(workflow: dict, job: dict) -> bool:
    return "write" in permissions(workflow, job).values()


def written_outputs(step: dict) -> set[str]:
    """The outputs a step can set: an action's documented ones, a script's `name=` lines
    appended to $GITHUB_OUTPUT."""
    if "uses" in step:
        return set(ACTION_OUTPUTS.get(uses(step), {}))
    return set(re.findall(r"([\w-]+)=[^\n]*>>\s*\"?\$GITHUB_OUTPUT", step.get("run", "")))


@dataclass
class Job:
    """What one job does on paper: whether it runs, its steps that run, and every expression
    it writes, as (where, expression, text)."""

    ran: bool
    steps: list[dict] = field(default_factory=list)
    written: list[tuple[str, str, str]] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    contexts: dict[str, Any] = field(default_factory=dict)

    def step(self, pattern: str) -> dict | None:
        """The step that ran whose `run` or `uses` matches `pattern`, if any."""
        return next((s for s in self.steps
                     if re.search(pattern, s.get("run", "") + s.get("uses", ""))), None)


def strings(value: Any, where: str):
    """Every string inside a workflow value, with where it is (`if:` keys left out)."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for k, v in value.items():
            if k not in ("if", "steps"):
                yield from strings(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from strings(v, f"{where}[{i}]")


def order(jobs: dict[str, dict]) -> list[str]:
    """The jobs with every job after those it needs."""
    done: list[str] = []
    while len(done) < len(jobs):
        ready = [n for n, j in jobs.items() if n not in done
                 and all(x in done for x in _needs(j))]
        if not ready:
            raise AssertionError(f"the jobs' `needs` form a cycle or name no job: {jobs.keys()}")
        done += ready
    return done


def _needs(job: dict) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


# A job's keys that GitHub evaluates once its steps have run (they may read `steps`).
AFTER_STEPS = ("outputs", "environment")


def run_on_paper(workflow: dict, github: dict[str, Any],
                 outputs: dict[str, dict[str, str]] | None = None) -> dict[str, Job]:
    """Every job of `workflow` as it would go on the run described by `github`, each step
    succeeding; `outputs` gives the run's step outputs by step id (a cache hit, a changed
    lock), each of which the step must be able to set."""
    outputs = outputs or {}
    base = {"github": github, "inputs": github["event"].get("inputs", {}), "vars": {},
            "secrets": {"GITHUB_TOKEN": github["token"]}, "matrix": {}, "strategy": {},
            "runner": {"os": "Linux", "arch": "X64", "temp": "/home/runner/work/_temp"},
            "env": workflow.get("env", {})}
    root_written = [(f"{w}", e, t) for w, s in strings(
        {k: v for k, v in workflow.items() if k in ("run-name", "concurrency", "env")},
        "workflow") for e, t in interpolations(s, base, ROOT)]
    jobs: dict[str, Job] = {}
    for name in order(workflow["jobs"]):
        spec = workflow["jobs"][name]
        needs = {n: {"result": "success" if jobs[n].ran else "skipped",
                     "outputs": jobs[n].outputs} for n in _needs(spec)}
        contexts = {**base, "needs": needs, "job": {"status": "success"},
                    "env": {**base["env"], **spec.get("env", {})}, "steps": {}}
        upstream_ok = all(jobs[n].ran for n in _needs(spec))
        if not condition(spec.get("if"), contexts, ROOT, "success" if upstream_ok else "skip"):
            jobs[name] = Job(ran=False)
            continue
        job = jobs[name] = Job(ran=True, contexts=contexts, written=list(root_written))
        for where, s in strings({k: v for k, v in spec.items() if k not in AFTER_STEPS}, name):
            job.written += [(where, e, t) for e, t in interpolations(s, contexts, ROOT)]
        for i, step in enumerate(spec.get("steps", [])):
            _run_step(job, step, f"{name}.steps[{i}]", outputs)
        for where, s in strings({k: v for k, v in spec.items() if k in AFTER_STEPS}, name):
            job.written += [(where, e, t) for e, t in interpolations(s, contexts, ROOT)]
        job.outputs = {k: interpolate(v, contexts, ROOT)
                       for k, v in spec.get("outputs", {}).items()}
    return jobs


def _run_step(job: Job, step: dict, where: str, outputs: dict[str, dict[str, str]]) -> None:
    contexts = job.contexts
    runs = {status: condition(step.get("if"), contexts, ROOT, status)
            for status in ("success", "failure")}
    sid = step.get("id")
    given = outputs.get(sid, {}) if sid else {}
    unknown = set(given) - written_outputs(step)
    assert not unknown, f"step `{sid}` cannot set the outputs {unknown} the scenario gives it"
    if runs["success"] or runs["failure"]:
        for w, s in strings(step, where):
            job.written += [(w, e, t) for e, t in interpolations(s, contexts, ROOT)]
    if runs["success"]:
        job.steps.append(step)
    if sid:
        documented = ACTION_OUTPUTS.get(uses(step), {}) if "uses" in step else {}
        contexts["steps"][sid] = {
            "outputs": {**documented, **given} if runs["success"] else {},
            "outcome": "success" if runs["success"] else "skipped",
            "conclusion": "success" if runs["success"] else "skipped"}


def events(workflow: dict) -> list[str]:
    on = workflow["on"]
    return [on] if isinstance(on, str) else list(on)


# Step outputs that change what a workflow does, one run per scenario.
SCENARIOS: dict[str, list[dict[str, dict[str, str]]]] = {
    "publish.yml": [{"results": {"cache-hit": "true"}}, {"results": {"cache-hit": "false"}}],
    "lock.yml": [{"relock": {"changed": "true"}}, {"relock": {"changed": "false"}}],
}
RUNS = [(path.name, event, i)
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for event in events(load(path.name))
        for i in range(len(SCENARIOS.get(path.name, [{}])))]


@pytest.mark.parametrize("name, event, scenario", RUNS,
                         ids=[f"{n}-{e}-{i}" for n, e, i in RUNS])
def test_no_expression_resolves_empty_on_any_event_a_workflow_runs_on(name, event, scenario):
    workflow = load(name)
    jobs = run_on_paper(workflow, event_context(event), SCENARIOS.get(name, [{}])[scenario])
    assert any(job.ran for job in jobs.values()), f"{name} does nothing on {event}"
    empty = [f"{where}: ${{{{ {expr} }}}}" for job in jobs.values()
             for where, expr, text in job.written if text.strip() == ""]
    assert empty == [], f"{name} on {event}: expressions that resolve empty: {empty}"


def deploys(github: dict[str, Any]) -> bool:
    return run_on_paper(load("publish.yml"), github)["deploy"].ran


@pytest.mark.parametrize("event", ["push", "schedule", "workflow_dispatch"])
def test_every_run_of_the_default_branch_deploys(event):
    assert event in events(load("publish.yml"))
    assert deploys(event_context(event)), f"a {event} run on {DEFAULT_BRANCH} does not deploy"


@pytest.mark.parametrize("github", [
    event_context("pull_request"),
    event_context("workflow_dispatch", ref="refs/heads/other", ref_name="other"),
    event_context("push", ref="refs/heads/other", ref_name="other"),
], ids=["pull-request", "dispatch-from-another-branch", "push-to-another-branch"])
def test_nothing_else_deploys(github):
    assert not deploys(github)


def test_a_schedule_payload_has_no_repository_to_read_the_default_branch_from():
    # Why the deploy condition cannot use github.event.repository: the check is on the payload.
    github = event_context("schedule")
    assert evaluate("github.event.repository.default_branch", {"github": github}, ROOT) is None
    assert github["ref"] == f"refs/heads/{DEFAULT_BRANCH}", "a schedule runs on the default branch"


def results_cache(job: Job, contexts_key: str) -> str:
    return interpolate(job.step(rf"^actions/cache/{contexts_key}@")["with"]["key"],
                       job.contexts, ROOT)


@pytest.mark.parametrize("event", ["push", "workflow_dispatch"])
def test_the_results_cache_saves_under_the_key_it_restores(event):
    workflow = load("publish.yml")
    missed = run_on_paper(workflow, event_context(event), {"results": {"cache-hit": "false"}})
    build = missed["build"]
    restore, save = (build.step(rf"^actions/cache/{a}@") for a in ("restore", "save"))
    assert restore is not None and save is not None, "a miss restores, rebuilds and saves"
    assert restore["with"]["path"] == save["with"]["path"] == "results"
    assert results_cache(build, "save") == results_cache(build, "restore"), \
        "the exact key a run restores must be the key a run saves, or it never hits"
    hit = run_on_paper(workflow, event_context(event), {"results": {"cache-hit": "true"}})
    assert hit["build"].step("^actions/cache/restore@") is not None
    assert hit["build"].step("^actions/cache/save@") is None, "an exact hit has nothing new"


def test_the_weekly_rebuild_starts_from_no_results_and_saves_them():
    build = run_on_paper(load("publish.yml"), event_context("schedule"))["build"]
    assert build.step("^actions/cache/restore@") is None
    assert build.step("^actions/cache/save@") is not None
    assert build.step(r"fmnist report") is not None


def pr_base(job: Job, step: dict) -> str:
    """The `--base` that a step's `gh pr create` receives once expressions and the step's
    environment are filled in."""
    env = {k: interpolate(str(v), job.contexts, ROOT)
           for k, v in {**job.contexts["env"], **step.get("env", {})}.items()}
    script = interpolate(step["run"], job.contexts, ROOT).replace("\\\n", " ")
    line = next(x for x in script.splitlines() if "gh pr create" in x)
    line = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), line)
    words = shlex.split(line)
    for flag in ("--base", "-B"):
        if flag in words:
            return words[words.index(flag) + 1]
        if any(w.startswith(f"{flag}=") for w in words):
            return next(w.split("=", 1)[1] for w in words if w.startswith(f"{flag}="))
    raise AssertionError(f"`gh pr create` names no base branch: {line}")


@pytest.mark.parametrize("event", ["schedule", "workflow_dispatch"])
def test_the_relock_is_tested_without_write_rights_then_proposed_by_another_job(event):
    workflow = load("lock.yml")
    assert event in events(workflow)
    jobs = run_on_paper(workflow, event_context(event), {"relock": {"changed": "true"}})
    tester = next(n for n, j in jobs.items() if j.step(r"make (lint )?test"))
    opener = next(n for n, j in jobs.items() if j.step(r"gh pr create"))
    assert tester != opener, "a pull request opened by the workflow's token starts no tests: " \
                             "they run here, in their own job"
    assert not can_write(workflow, workflow["jobs"][tester]), "tests run pip-installed code"
    assert can_write(workflow, workflow["jobs"][opener])
    assert tester in _needs(workflow["jobs"][opener])
    test_job = jobs[tester]
    steps = [s.get("run", "") for s in test_job.steps]
    assert next(i for i, r in enumerate(steps) if "make lock" in r) < \
        next(i for i, r in enumerate(steps) if re.search(r"make (lint )?test", r))
    opener_job = jobs[opener]
    assert pr_base(opener_job, opener_job.step(r"gh pr create")) == \
        event_context(event)["ref_name"] == DEFAULT_BRANCH
    unchanged = run_on_paper(workflow, event_context(event), {"relock": {"changed": "false"}})
    assert not unchanged[opener].ran, "no pull request when the lock did not change"


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_no_job_that_runs_installed_code_can_write(name):
    workflow = load(name)
    for job_name, job in workflow["jobs"].items():
        runs = "\n".join(s.get("run", "") for s in job.get("steps", []))
        if RUNS_INSTALLED_CODE.search(runs):
            assert not can_write(workflow, job), f"{name}: job `{job_name}` runs installed " \
                                                 f"code with {permissions(workflow, job)}"


def test_publish_grants_pages_rights_to_the_deploy_job_only():
    workflow = load("publish.yml")
    assert workflow["permissions"] == {"contents": "read"}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert "permissions" not in build
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["needs"] == "build"
    assert [uses(s) for s in deploy["steps"]] == ["actions/deploy-pages"]


def test_a_failed_build_keeps_its_notebooks_and_log_and_names_its_repository():
    workflow = load("publish.yml")
    steps = workflow["jobs"]["build"]["steps"]
    failed = next(s for s in steps if s.get("if") == "failure()")
    assert "results/notebooks/" in failed["with"]["path"] and "report.log" in failed["with"]["path"]
    build = run_on_paper(workflow, event_context("push"))["build"]
    check = build.step(r"fmnist repository --check")
    assert interpolate(check["run"], build.contexts, ROOT).endswith(
        '"https://github.com/fmnist-report/fmnist-report"')
    assert build.step("^actions/upload-pages-artifact@") is not None


def test_pull_requests_run_the_tests_and_deploy_nothing():
    workflow = load("test.yml")
    jobs = run_on_paper(workflow, event_context("pull_request"))
    assert jobs["test"].ran and workflow["permissions"] == {"contents": "read"}
    assert jobs["test"].step("make test") and jobs["test"].step("make lint")
    assert not any("pages" in uses(s) for j in jobs.values() for s in j.steps)
    runs = " ".join(s.get("run", "") for j in jobs.values() for s in j.steps)
    assert "apt-get" not in runs, "Ubuntu's chromium package is a snap; the runner has Chrome"


@pytest.mark.parametrize("event, cancels", [("pull_request", "true"), ("push", "false")])
def test_a_new_push_cancels_a_pull_requests_superseded_run_only(event, cancels):
    workflow = load("test.yml")
    contexts = {"github": event_context(event)}
    assert interpolate(str(workflow["concurrency"]["cancel-in-progress"]), contexts, ROOT) == \
        cancels
    group = interpolate(workflow["concurrency"]["group"], contexts, ROOT)
    assert group.endswith(contexts["github"]["ref"])


def test_a_job_installs_as_colab_does_on_a_newer_python_without_the_lock():
    job = load("test.yml")["jobs"]["unpinned"]
    python = next(s for s in job["steps"] if uses(s) == "actions/setup-python")
    assert python["with"]["python-version"] == "3.12"
    runs = [s.get("run", "") for s in job["steps"]]
    assert any("pip install '.[report,dev]'" in r for r in runs)
    assert not any("requirements" in r or "make env" in r for r in runs)
    assert any('pytest -m "not slow"' in r for r in runs)


def test_dependabot_updates_the_actions_only():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert [u["package-ecosystem"] for u in config["updates"]] == ["github-actions"]


# --- the evaluator itself: each rule it follows can fail ---------------------------------------

GITHUB = {"event_name": "push", "ref": "refs/heads/main", "event": {"commits": [1, 2]},
          "run_id": "7"}


@pytest.mark.parametrize("expression, value", [
    ("github.event.repository.default_branch", None),  # missing: null, not an error
    ("github.EVENT_NAME == 'PUSH'", True),              # keys and strings: any case
    ("github.run_id == 7", True),                       # loose: a string against a number
    ("'abc' == 0", False),                              # NaN equals nothing
    ("null == 0 && !''", True),
    ("github.event.commits[1]", 2.0),
    ("github.event['commits'][5]", None),
    ("format('refs/heads/{0}', github.event.repository.default_branch)", "refs/heads/"),
    ("format('{{{0}}}', 'x')", "{x}"),
    ("github.event.nothing || 'fallback'", "fallback"),
    ("'' && fromJSON('not JSON')", ""),                 # the right side is never called
    ("startsWith(github.ref, 'REFS/heads/') && endsWith(github.ref, 'main')", True),
    ("contains(fromJSON('[\"push\", \"schedule\"]'), github.event_name)", True),
    ("1 < 2 && 2 <= 2 && !(3 > 4) && 'b' >= 'a'", True),
    ("hashFiles('no/such/file')", ""),
])
def test_the_evaluator_follows_githubs_rules(expression, value):
    assert evaluate(expression, {"github": GITHUB}, ROOT) == value


def test_hash_files_hashes_what_the_patterns_match():
    digest = evaluate("hashFiles('params/default.yaml', 'src/**')", {}, ROOT)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest != evaluate("hashFiles('params/default.yaml')", {}, ROOT)


@pytest.mark.parametrize("text, status, holds", [
    (None, "success", True),
    (None, "failure", False),
    ("github.event_name == 'push'", "failure", False),  # an implicit success() &&
    ("failure()", "failure", True),
    ("${{ always() && github.event_name == 'push' }}", "failure", True),
    ("github.event_name != 'push'", "success", False),
])
def test_conditions_read_as_github_reads_them(text, status, holds):
    assert condition(text, {"github": GITHUB}, ROOT, status) is holds


@pytest.mark.parametrize("expression", ["github.*.x", "nosuch(1)", "github.ref ==", "'open",
                                        "unknownContext.x", "a = b"])
def test_what_the_evaluator_does_not_know_is_an_error(expression):
    with pytest.raises(ExpressionError):
        evaluate(expression, {"github": GITHUB}, ROOT)


def test_an_event_without_a_recorded_payload_is_named():
    with pytest.raises(AssertionError, match="no recorded payload for the `release` event"):
        event_context("release")


def test_the_recorded_payloads_keep_what_github_sends():
    for event in ("push", "pull_request", "workflow_dispatch"):
        repository = event_context(event)["event"]["repository"]
        assert repository["default_branch"] == DEFAULT_BRANCH, event
    assert set(event_context("schedule")["event"]) == {"schedule"}
    assert event_context("pull_request")["ref"].startswith("refs/pull/")


def test_the_scenarios_name_outputs_a_step_really_sets():
    workflow = copy.deepcopy(load("publish.yml"))
    with pytest.raises(AssertionError, match="cannot set the outputs"):
        run_on_paper(workflow, event_context("push"), {"results": {"no-such-output": "x"}})


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
