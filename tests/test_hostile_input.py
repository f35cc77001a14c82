"""Hostile input: profiles made to exhaust memory or time, and strings made to run as code in a
shell, a notebook cell, YAML or a page, are refused before anything is written."""

from __future__ import annotations

import hashlib
import subprocess
import time

import pytest
from conftest import ROOT, copy_project, fmnist

from fmnist import cli, launch
from fmnist.params import load_profile
from fmnist.profile_yaml import MAX_PROFILE_BYTES
from fmnist.schema import ParamsError

# An alias "bomb": each level refers nine times to the one below, 9**8 lists once expanded.
BOMB = "a0: &a0 [1]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))


def project_with_site(tmp_path):
    root = copy_project(tmp_path / "proj")
    (root / "_build" / "html").mkdir(parents=True)
    (root / "_build" / "html" / "index.html").write_text("previous site")
    return root


def snapshot(root) -> dict[str, str]:
    """Every file of the project by its digest: what "nothing written" compares."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def refused(proc, fragment: str) -> None:
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert fragment in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, "one message"


@pytest.mark.parametrize("text, fragment", [
    # A valid profile but for the alias: without the check it would run.
    ("cnn: &c {epochs: 2}\ndense: *c\n", "anchor or alias (`&name`, `*name`) on line 1"),
    (BOMB + "tuning:\n  space: {filters: *a8}\n", "anchor or alias"),
    ("cnn:\n  filters: " + "[" * 20_000 + "]" * 20_000 + "\n", "nesting deeper than 8 levels"),
    ("seed: " + "9" * 100_000 + "\n", "a value of 100,000 characters on line 1"),
    ("cnn:\n  epochs: " + "1" * 40 + "\n", "a number of 40 characters on line 2"),
    ("data_dir: '" + "x" * 5000 + "'\n", "a value of 5,000 characters"),
    ("# padding\n" * (MAX_PROFILE_BYTES // 10 + 1) + "cnn: {epochs: 0}\n",
     f"more than a profile ever needs ({MAX_PROFILE_BYTES:,} at most)"),
], ids=["alias", "alias-bomb", "deep-nesting", "huge-number", "long-number", "huge-string",
                             "huge-file"])
def test_a_profile_built_to_exhaust_memory_or_time_is_refused_at_once(tmp_path, text, fragment):
    root = project_with_site(tmp_path)
    # A data folder that does not exist is checked after the refusal under test: without it the
    # run would stop there, naming the folder, instead of running a chapter.
    (root / "params" / "hostile.yaml").write_text(text + "data_dir: /nonexistent/fmnist\n")
    before = snapshot(root)
    start = time.perf_counter()
    proc = fmnist("report", "--params", "params/hostile.yaml", cwd=root)
    assert time.perf_counter() - start < 30
    refused(proc, fragment)
    assert "hostile.yaml" in proc.stderr
    assert snapshot(root) == before


@pytest.mark.parametrize("override, fragment", [
    ("cnn.filters=[&f 8, *f]", "anchor or alias"),
    ("cnn.filters=" + "[" * 2000 + "]" * 2000, "nesting deeper than 8 levels"),
    ("seed=" + "9" * 4000, "a number of 4,000 characters"),
    ("cnn.padding=" + "x" * 20_000, "20,012 characters; no key of a profile takes more than 4,096"),
], ids=["alias", "deep-nesting", "huge-number", "huge-override"])
def test_a_hostile_override_is_refused_with_one_short_line(tmp_path, override, fragment):
    root = project_with_site(tmp_path)
    before = snapshot(root)
    proc = fmnist("report", "--params", "params/quick.yaml", "--set", override,
                  "--set", "data_dir=/nonexistent/fmnist", cwd=root)
    refused(proc, fragment)
    assert len(proc.stderr) < 600, "the override is quoted shortened, not echoed whole"
    assert snapshot(root) == before


def test_an_anchor_in_a_profile_is_refused_by_load_profile_too(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("seed: &s 3\n")
    with pytest.raises(ParamsError, match=r"p.yaml: a YAML anchor or alias"):
        load_profile(path)


@pytest.mark.parametrize("name, text", [
    ("hostile.yaml", "results_dir: 'res\"; import os; os.system(\"touch pwned\") #'\n"),
    ("hostile.yaml", "results_dir: 'out$(touch pwned)'\n"),
    ("hostile.yaml", "results_dir: \"<img src=x onerror=alert(1)>\"\n"),
    ("hostile.yaml", "results_dir: \"line\\nbreak\"\n"),
    ("x`<img src=x onerror=alert(1)>`.yaml", ""),
    ("a;touch pwned.yaml", ""),
], ids=["results-dir-python", "results-dir-shell", "results-dir-markup", "results-dir-newline",
        "profile-name-markup", "profile-name-shell"])
def test_a_name_that_would_run_as_code_or_markup_is_refused(tmp_path, name, text):
    root = project_with_site(tmp_path)
    (root / "params" / name).write_text(text + "data_dir: /nonexistent/fmnist\n")
    before = snapshot(root)
    proc = fmnist("report", "--params", f"params/{name}", cwd=root)
    refused(proc, "results_dir" if "results_dir" in text else "a profile's file name may hold")
    assert snapshot(root) == before
    assert not (root / "pwned").exists() and not (root / "book" / "pwned").exists()


HOSTILE_ADDRESSES = [
    'https://github.com/owner/name"; import os; os.system("id"); "',
    "https://github.com/owner/name$(touch pwned)",
    "https://github.com/owner/name`id`",
    "https://github.com/owner/name<script>alert(1)</script>",
    "https://github.com/owner/name\"onmouseover=\"alert(1)",
    "https://github.com/owner/name\n  extra: injected",
    "https://github.com/owner/name?x=<b>",
    "https://github.com/owner/name/../../evil",
    "https://github.com/ówner/name",
    "https://github.com/owner/..",
    "https://github.com/-owner/name",
    "https://github.com.evil.example/owner/name",
    "http://github.com/owner/name",
    "git@github.com:owner/name;touch pwned",
    "https://github.com/owner/name with space",
]


@pytest.mark.parametrize("address", HOSTILE_ADDRESSES)
def test_fmnist_repository_refuses_anything_but_a_plain_github_address(tmp_path, address,
                                                                       capsys):
    root = copy_project(tmp_path / "proj")
    before = snapshot(root)
    assert cli.main(["--root", str(root), "repository", address]) == 2
    err = capsys.readouterr().err
    assert "not a plain GitHub repository address" in err and "https://github.com/<owner>" in err
    assert snapshot(root) == before, "no configuration, citation or notebook written"


def test_a_hostile_address_in_the_configuration_never_reaches_the_site(tmp_path):
    root = copy_project(tmp_path / "proj")
    config = root / launch.CONFIG_FILE
    old = launch.config_repository(root)
    config.write_text(config.read_text().replace(old, 'https://github.com/a/b"><script>x'))
    with pytest.raises(ParamsError, match="not a plain https://github.com/<owner>/<name>"):
        launch.repository_url(root)


def test_a_hostile_git_remote_is_passed_over_for_the_configured_address(tmp_path):
    root = copy_project(tmp_path / "proj")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "remote", "add", "origin",
                    "https://github.com/ówner/x"], check=True)
    assert launch.repository_url(root) == launch.config_repository(ROOT)
