"""Opening a chapter elsewhere: the repository's address, and the setup cell every chapter
starts with.

The address has one source: the git remote `origin` when it is a GitHub repository (a fork's
site points at the fork without an edit), else `repository.url` in `_config.yml`. The site's
launch buttons take it when the site is built; the chapters' setup cells, which must work in a
runtime that has nothing yet (Colab), carry it as text written by `fmnist repository` from the
same source, and a test fails when they disagree with `_config.yml`.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

from fmnist.cells import tagged_sources, write_tagged_cells
from fmnist.chapters import notebooks
from fmnist.schema import ParamsError

CONFIG_FILE = "_config.yml"
SETUP_TAG = "setup"
_URL_LINE = re.compile(r"^(repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:[ \t]*)(\S+)", re.M)
# GitHub's own rules for names, in ASCII: an owner is letters, digits and inner hyphens; a
# repository letters, digits, `.`, `-`, `_` (not `.` or `..`). Nothing else gets through: the
# address is written into a shell command, a Python string, YAML and HTML attributes.
_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
_NAME = r"(?!\.{1,2}(?:\.git)?/?\Z)[A-Za-z0-9._-]{1,100}?"
_GITHUB = re.compile(r"(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)"
                     rf"({_OWNER})/({_NAME})(?:\.git)?/?\Z", re.ASCII)
PLAIN_ADDRESS = "https://github.com/<owner>/<name> (letters, digits, `.`, `-`, `_`)"

SETUP_TEMPLATE = '''\
# Setup. In a local checkout or Binder this does nothing. In a fresh runtime (Colab) it fetches
# the project and installs the package with what running a chapter needs: no test, site or lint
# tools, no pins that would make Colab restart its runtime.
# (Names start with `_`: every other plain global of a chapter is one of its parameters.)
import importlib.util
import os
import subprocess
import sys

_REPOSITORY = "{repository}"  # written by `fmnist repository`

_in_colab = "google.colab" in sys.modules  # Colab imports it before any cell runs
_project = "/content/fmnist-report" if _in_colab else os.path.expanduser("~/fmnist-report")
if importlib.util.find_spec("fmnist") is None:
    if not os.path.isdir(_project):
        subprocess.run(["git", "clone", "-q", "--depth", "1", _REPOSITORY, _project], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", _project], check=True)
    importlib.invalidate_caches()
# A chapter runs in the project's book/ folder. After Colab's "Restart session" the package is
# installed but the working folder is /content again: move whenever it is not a book/ folder.
if not os.path.isfile(os.path.join("..", "_toc.yml")) and os.path.isdir(_project):
    os.chdir(os.path.join(_project, "book"))
'''


def setup_source(repository: str) -> str:
    """The setup cell's code for a project at `repository`."""
    return SETUP_TEMPLATE.format(repository=repository).rstrip("\n")


def github_url(remote: str) -> str | None:
    """`https://github.com/<owner>/<name>` for a GitHub remote in any of git's forms, else None."""
    found = _GITHUB.fullmatch(remote.strip())
    return f"https://github.com/{found.group(1)}/{found.group(2)}" if found else None


def git_repository(root: Path) -> str | None:
    """The GitHub address of `root`'s git remote `origin`, if it has one."""
    try:
        proc = subprocess.run(["git", "-C", str(root), "remote", "get-url", "origin"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return github_url(proc.stdout) if proc.returncode == 0 else None


def config_repository(root: Path) -> str:
    """`repository.url` in the project's `_config.yml`."""
    found = _URL_LINE.search((root / CONFIG_FILE).read_text(encoding="utf-8"))
    if not found:
        raise ValueError(f"{root / CONFIG_FILE} has no `repository: url:` entry")
    return found.group(2)


def repository_url(root: Path) -> str:
    """The project's address: the GitHub remote `origin`, else `_config.yml`'s, which must be a
    plain GitHub address (`ParamsError` otherwise: it would reach the site's pages)."""
    found = git_repository(root)
    if found:
        return found
    configured = config_repository(root)
    if github_url(configured) != configured:
        raise ParamsError(f"{root / CONFIG_FILE}: `repository: url:` is {configured[:80]!r}, "
                          f"not a plain {PLAIN_ADDRESS}. Set it with `fmnist repository URL`.")
    return configured


def write_config_repository(config: Path, repository: str) -> None:
    """Set `repository.url` in a `_config.yml`, leaving every other line as it was."""
    text = config.read_text(encoding="utf-8")
    config.write_text(_URL_LINE.sub(lambda m: m.group(1) + repository, text, count=1),
                      encoding="utf-8")


def write_setup_cells(notebooks: Iterable[Path], repository: str) -> list[Path]:
    """Rewrite the cell tagged `setup` of each notebook for `repository`; return those changed."""
    source = setup_source(repository)
    return write_tagged_cells(notebooks, SETUP_TAG, lambda _: source)


# Text files that name the repository besides `_config.yml` and the setup cells: the citation
# and the README (its links), rewritten wherever they name the configured address.
ADDRESS_FILES = ("CITATION.cff", "README.md")


def _as_github(repository: str) -> str:
    url = github_url(repository)
    if url is None:
        raise ValueError(f"{repository[:80]!r} is not a plain GitHub repository address; give "
                         f"it as {PLAIN_ADDRESS}")
    return url


def set_repository(root: Path, repository: str) -> list[Path]:
    """Point every place that names the repository at `repository`: the site's configuration,
    every chapter's setup cell, the citation and the README; return the files changed."""
    url = _as_github(repository)
    old = config_repository(root)
    changed = []
    for name in ADDRESS_FILES:
        path = root / name
        if path.is_file() and old != url and old in (text := path.read_text(encoding="utf-8")):
            path.write_text(text.replace(old, url), encoding="utf-8")
            changed.append(path)
    if old != url:
        write_config_repository(root / CONFIG_FILE, url)
        changed.append(root / CONFIG_FILE)
    return changed + write_setup_cells(notebooks(root), url)


def disagreeing(root: Path, repository: str) -> list[str]:
    """The places that do not name `repository`: `_config.yml`, a chapter's setup cell, the
    citation (empty when every place agrees)."""
    url = _as_github(repository)
    out = [] if config_repository(root) == url else [CONFIG_FILE]
    citation = root / "CITATION.cff"
    if citation.is_file() and url not in citation.read_text(encoding="utf-8"):
        out.append(citation.name)
    source = setup_source(url)
    for path in notebooks(root):
        if tagged_sources(path, SETUP_TAG) != [source]:
            out.append(f"book/{path.name}")
    return out
