"""`fmnist publish` pushes the built site to a gh-pages branch with ghp-import."""

from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import ROOT


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


def clone_with_site(tmp_path, name: str, remote, html: str):
    """A project clone whose `origin` is `remote`, with a built site saying `html`."""
    root = tmp_path / name
    root.mkdir()
    shutil.copy(ROOT / "_toc.yml", root)
    shutil.copytree(ROOT / "book", root / "book")
    (root / "_build" / "html").mkdir(parents=True)
    (root / "_build" / "html" / "index.html").write_text(html)
    git("init", "-q", cwd=root)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", name,
        cwd=root)
    git("remote", "add", "origin", str(remote), cwd=root)
    return root


def publish(root, tmp_path):
    return subprocess.run([sys.executable, "-m", "fmnist", "publish"], cwd=root,
                          capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
                               "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})


def test_publish_into_a_local_bare_repository_from_two_clones(tmp_path):
    remote = tmp_path / "remote.git"
    git("init", "--bare", "-q", str(remote), cwd=tmp_path)
    first = clone_with_site(tmp_path, "first", remote, "<html>report 1</html>")
    proc = publish(first, tmp_path)
    assert proc.returncode == 0, proc.stderr
    files = git("ls-tree", "--name-only", "gh-pages", cwd=remote).stdout.split()
    assert "index.html" in files and ".nojekyll" in files
    assert git("show", "gh-pages:index.html", cwd=remote).stdout == "<html>report 1</html>"
    # A second clone that never fetched gh-pages: its push is not a fast-forward.
    second = clone_with_site(tmp_path, "second", remote, "<html>report 2</html>")
    proc = publish(second, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert git("show", "gh-pages:index.html", cwd=remote).stdout == "<html>report 2</html>"


def test_publish_without_a_site_is_a_clear_error(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    shutil.copy(ROOT / "_toc.yml", root)
    (root / "book").mkdir()
    proc = subprocess.run([sys.executable, "-m", "fmnist", "publish"], cwd=root,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "build the site first" in proc.stderr and "Traceback" not in proc.stderr


def test_publish_without_the_remote_names_it_and_how_to_add_one(tmp_path):
    root = clone_with_site(tmp_path, "proj", tmp_path / "remote.git", "<html>r</html>")
    git("remote", "remove", "origin", cwd=root)
    proc = publish(root, tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no git remote `origin`" in proc.stderr and "git remote add origin" in proc.stderr


def test_publish_to_an_unreachable_remote_is_exit_2(tmp_path):
    root = clone_with_site(tmp_path, "proj", tmp_path / "nowhere.git", "<html>r</html>")
    proc = publish(root, tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "could not push the site to `origin`" in proc.stderr


def test_publish_refused_by_the_remote_is_exit_2(tmp_path):
    remote = tmp_path / "remote.git"
    git("init", "--bare", "-q", str(remote), cwd=tmp_path)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes to gh-pages are not allowed here' >&2\nexit 1\n")
    hook.chmod(0o755)
    root = clone_with_site(tmp_path, "proj", remote, "<html>r</html>")
    proc = publish(root, tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "the remote `origin` refused the push" in proc.stderr
    assert "pushes to gh-pages are not allowed here" in proc.stderr
