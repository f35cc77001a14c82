"""The package declares what it imports: `pip install .` gives a working `fmnist`."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
import zipfile

import pytest
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Import names whose distribution is named otherwise.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "yaml": "pyyaml", "keras_tuner": "keras-tuner",
                 "ghp_import": "ghp-import", "IPython": "ipykernel",
                 "jupyter_client": "jupyter-client"}
STDLIB = set(sys.stdlib_module_names)


def imported_names() -> set[str]:
    names = set()
    for path in (ROOT / "src" / "fmnist").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - STDLIB - {"fmnist"}


def declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(reqs):
        return {r.split(">")[0].split("=")[0].split("<")[0].strip() for r in reqs}

    return names(project["dependencies"]), names(project["optional-dependencies"]["report"])


def test_every_third_party_import_is_declared():
    runtime, report = declared()
    missing = {DISTRIBUTIONS.get(n, n) for n in imported_names()} - runtime - report
    assert missing == set(), f"imported but not declared: {missing}"
    assert {"tensorflow", "keras", "keras-tuner"} <= runtime
    assert {"papermill", "jupyter-book", "ghp-import"} <= report


@pytest.mark.slow
def test_the_wheel_carries_the_dependencies_and_the_command(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
                    str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("fmnist_report-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith("METADATA"))
        text = zf.read(meta).decode()
        entry = zf.read(next(n for n in zf.namelist() if n.endswith("entry_points.txt"))).decode()
        licence = [n for n in zf.namelist() if n.endswith("LICENSE")]
    requires = [line for line in text.splitlines() if line.startswith("Requires-Dist:")]
    assert any(r.startswith("Requires-Dist: tensorflow") for r in requires)
    assert any("papermill" in r and "extra == \"report\"" in r for r in requires)
    assert "fmnist = fmnist.cli:main" in entry and licence


def locked() -> dict[str, str]:
    """requirements.lock as {normalised name: pinned version}."""
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_the_lock_pins_every_declared_dependency_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["report"],
              *project["optional-dependencies"]["dev"]]
    pins = locked()
    for text in wanted:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pins, f"{name} is not pinned in requirements.lock: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"requirements.lock pins {name}=={pins[name]}, outside pyproject's {req.specifier}"
    installs = (ROOT / "requirements.txt").read_text().splitlines()
    assert "-c requirements.lock" in installs and "-e .[report,dev]" in installs
