"""`fmnist publish` pushes the built site to a gh-pages branch with ghp-import."""

from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import ROOT


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


def test_publish_into_a_local_bare_repository(tmp_path):
    remote = tmp_path / "remote.git"
    git("init", "--bare", "-q", str(remote), cwd=tmp_path)
    root = tmp_path / "proj"
    root.mkdir()
    shutil.copy(ROOT / "_toc.yml", root)
    shutil.copytree(ROOT / "book", root / "book")
    (root / "_build" / "html").mkdir(parents=True)
    (root / "_build" / "html" / "index.html").write_text("<html>report</html>")
    git("init", "-q", cwd=root)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x",
        cwd=root)
    git("remote", "add", "origin", str(remote), cwd=root)
    env_cmd = [sys.executable, "-m", "fmnist", "publish"]
    proc = subprocess.run(env_cmd, cwd=root, capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
                               "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    files = git("ls-tree", "--name-only", "gh-pages", cwd=remote).stdout.split()
    assert "index.html" in files and ".nojekyll" in files
    shown = git("show", "gh-pages:index.html", cwd=remote).stdout
    assert shown == "<html>report</html>"


def test_publish_without_a_site_is_a_clear_error(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    shutil.copy(ROOT / "_toc.yml", root)
    (root / "book").mkdir()
    proc = subprocess.run([sys.executable, "-m", "fmnist", "publish"], cwd=root,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "build the site first" in proc.stderr and "Traceback" not in proc.stderr
