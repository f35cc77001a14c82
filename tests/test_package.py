"""The package declares what it imports: `pip install .` gives a working `fmnist`."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Import names whose distribution is named otherwise.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "yaml": "pyyaml", "keras_tuner": "keras-tuner",
                 "ghp_import": "ghp-import", "IPython": "ipykernel",
                 "jupyter_client": "jupyter-client", "bs4": "beautifulsoup4", "PIL": "pillow"}
STDLIB = set(sys.stdlib_module_names)
PACKAGE = ROOT / "src" / "fmnist"


def package_modules() -> dict[str, Path]:
    """Every module of the package, subpackages included, by its dotted name."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_names() -> set[str]:
    names = set()
    for path in package_modules().values():
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


def built_wheel(out: Path) -> Path:
    """The wheel of the sources, built from a copy: building in the checkout leaves a `build/`
    folder whose stale modules a later wheel would carry."""
    source = out / "source"
    shutil.copytree(ROOT / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(source)], check=True, capture_output=True)
    return next(out.glob("fmnist_report-*.whl"))


@pytest.mark.slow
def test_the_wheel_carries_the_dependencies_and_the_command(tmp_path):
    wheel = built_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith("METADATA"))
        text = zf.read(meta).decode()
        entry = zf.read(next(n for n in zf.namelist() if n.endswith("entry_points.txt"))).decode()
        licence = [n for n in zf.namelist() if n.endswith("LICENSE")]
        modules = {n for n in zf.namelist() if n.startswith("fmnist/")}
    requires = [line for line in text.splitlines() if line.startswith("Requires-Dist:")]
    assert any(r.startswith("Requires-Dist: tensorflow") for r in requires)
    assert any("papermill" in r and "extra == \"report\"" in r for r in requires)
    assert "fmnist = fmnist.cli:main" in entry and licence
    assert modules == {p.relative_to(PACKAGE.parent).as_posix()
                       for p in package_modules().values()}


@pytest.mark.slow
def test_pip_install_into_an_empty_environment_gives_a_working_command(tmp_path):
    # The runtime dependencies only (what Colab installs), at the lock's versions.
    wheel = built_wheel(tmp_path)
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing from outside

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, env=clean)

    # --no-compile: byte-compiling TensorFlow's thousands of modules is most of the install's
    # time and nothing this test checks.
    install = run(str(env / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile",
                  "-c", str(ROOT / "requirements.lock"), str(wheel))
    assert install.returncode == 0, install.stderr[-2000:]
    shown = run(str(env / "bin" / "fmnist"), "--help")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "report" in shown.stdout and "tune" in shown.stdout
    where = run(str(env / "bin" / "python"), "-c",
                "import fmnist.models, fmnist.tuning.steps; print(fmnist.__file__)")
    assert where.returncode == 0, where.stderr[-2000:]
    assert where.stdout.strip().startswith(str(env)), "imported from the checkout"


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


def test_the_logistic_regression_chapter_never_imports_keras():
    # The chapter that trains no network must start without TensorFlow: its imports, then a
    # fit, a saved model read back and its evaluation, in a fresh interpreter.
    cells = json.loads((ROOT / "book" / "02_baseline.ipynb").read_text())["cells"]
    imports = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code"
                        and "from fmnist import" in "".join(c["source"]))
    script = imports + """
import sys, tempfile, numpy as np
from pathlib import Path
rng = np.random.default_rng(0)
x, y = rng.random((200, 784)), np.arange(200) % 10
model, grid, _ = linear.select_logreg((x, y), (x, y), solvers=["lbfgs"], c_grid=[0.1],
                                      max_iter=50, tol=1e-3, seed=0, require_convergence=False)
root = Path(tempfile.mkdtemp())
(root / "baseline").mkdir()
model.save(root / "baseline" / "model.npz")
linear.LogRegModel.load(root / "baseline" / "model.npz")
evaluate.evaluate_predictor(model.predict_proba, x, y)
print(sorted(m for m in ("keras", "tensorflow") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def imports_of_the_package(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `path` imports, at module level or inside functions alike
    (`from fmnist import x` and `from fmnist.tuning import x` name the submodule `x`)."""
    deps = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            deps |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            deps |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules
                     else node.module for a in node.names}
    return deps & set(modules)


def test_no_module_of_the_package_imports_another_in_a_cycle():
    modules = package_modules()
    graph = {name: imports_of_the_package(path, modules) for name, path in modules.items()}

    def reaches(start, goal, seen=()):
        return any(d == goal or (d not in seen and reaches(d, goal, (*seen, d)))
                   for d in graph[start])

    assert "fmnist.tuning.folders" in graph["fmnist.tuning.steps"], "subpackages are read"
    cycles = sorted(m for m in graph if reaches(m, m))
    assert cycles == [], f"modules in an import cycle: {cycles}"
    assert graph["fmnist.chapters"] == set(), "the pipeline table imports nothing of the project"


def layout_modules(text: str) -> list[str]:
    """The modules the package table of docs/layout.md names (its second column), as dotted
    names inside `fmnist`."""
    rows = text[text.index("## The package"):].splitlines()
    cells = [row.split("|")[2] for row in rows if row.startswith("| ")]
    return [name for cell in cells for name in re.findall(r"`([\w.]+)`", cell)]


def test_the_layout_page_names_every_module_of_the_package_and_no_other():
    named = layout_modules((ROOT / "docs" / "layout.md").read_text())
    modules = {name.removeprefix("fmnist.") for name in package_modules()} - {"fmnist"}
    assert sorted(modules - set(named)) == [], "missing from docs/layout.md's package table"
    assert sorted(set(named) - modules) == [], "docs/layout.md names modules that do not exist"
    assert len(named) == len(set(named)), "docs/layout.md names a module twice"
    assert layout_modules("## The package\n| x | `tuning.space`, `plots` | jobs |\n") == [
        "tuning.space", "plots"]


def test_reading_or_launching_a_search_loads_no_keras():
    # The runner reads a search's folder (`tuning.folders`) to decide whether the tuning chapter
    # is fresh, and a launcher starts a chief and workers (`tuning.distribute`): TensorFlow's
    # seconds of start-up and its lines must stay out of both. The tuning package's `__init__`
    # imports nothing, so importing one of its modules loads that module's imports alone.
    init = PACKAGE / "tuning" / "__init__.py"
    assert not [n for n in ast.walk(ast.parse(init.read_text()))
                if isinstance(n, ast.Import | ast.ImportFrom)]
    light = ("folders", "space", "selection", "distribute")
    script = (f"import sys, {', '.join(f'fmnist.tuning.{m}' for m in light)}\n"
              "heavy = ('keras', 'keras_tuner', 'tensorflow')\n"
              "print(sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
