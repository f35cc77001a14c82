"""The `fmnist` command: what each command does with its arguments (`arguments` parses them);
the work is done in `report`, `tuning.distribute`, `verify` and `site`.

A command imports the modules that do its work when it runs: the runner, the site and the
repository's cells need the `report` extra, which `fmnist --help`, `fmnist data` or a
runtime-only install (Colab's) should not load.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib.util
import os
import shutil
import sys
import time
from pathlib import Path

from fmnist import interrupt
from fmnist.arguments import DEFAULT_PARAMS, make_parser
from fmnist.chapters import SLUGS, downstream
from fmnist.data import DataError, describe_source, find_data_dir, load_dataset
from fmnist.environment import settle_home
from fmnist.lock import LockBusy, project_lock
from fmnist.params import load_profile
from fmnist.paths import PathError, project_root, results_path
from fmnist.results import DamagedResults
from fmnist.schema import ParamsError
from fmnist.tuning import distribute

# What each command needs beyond the package's runtime: the `report` extra's modules (`data`
# and `runs` need none; `repository` reads and writes the chapters' cells with nbformat).
REPORT_EXTRA = ("papermill", "nbformat", "jupyter_client", "ipykernel", "jupyter_book")
NEEDS: dict[str, tuple[str, ...]] = {"report": REPORT_EXTRA, "run": REPORT_EXTRA,
                                     "tune": REPORT_EXTRA, "build": REPORT_EXTRA,
                                     "verify": REPORT_EXTRA,
                                     "publish": ("ghp_import",), "repository": ("nbformat",)}


def missing_extra(command: str) -> str | None:
    """A message naming the extra to install when `command` needs modules that are missing."""
    missing = [m for m in NEEDS.get(command, ()) if importlib.util.find_spec(m) is None]
    if not missing:
        return None
    return (f"`fmnist {command}` needs the package's `report` extra ({', '.join(missing)} "
            "missing in this environment). Install it with `pip install 'fmnist-report[report]'`"
            " from PyPI, `pip install '.[report]'` in a checkout, or `make env`.")


USAGE_ERRORS = (ParamsError, DataError, PathError, LockBusy, DamagedResults)  # exit 2: fixable


def run_verify(root: Path, args: argparse.Namespace) -> int:
    """`fmnist verify`: the published run defaults to the project's results folder."""
    from fmnist import verify  # noqa: PLC0415 - the runner: the report extra

    against = args.against
    if against is None:
        profile = load_profile(args.params or root / DEFAULT_PARAMS, args.overrides)
        against = results_path(root, profile.shared.results_dir)
    try:
        return verify.run_verify(root, against, verify.model_chapters(args.chapters, args.quick),
                                 args.params, args.overrides)
    except verify.VerifyError as err:
        raise ParamsError(str(err)) from None


def show_runs(results: Path, which: list[str]) -> int:
    """`fmnist runs`: the history, oldest first, or two runs compared (validation first)."""
    from fmnist import runs  # noqa: PLC0415 - only this command reads the history

    history, damaged = runs.load_runs(results)
    for note in damaged:
        print(f"fmnist: {note}", file=sys.stderr)
    if len(which) not in (0, 2):
        raise ParamsError(f"`fmnist runs` takes no run (to list them) or two (to compare), got "
                          f"{len(which)}: e.g. `fmnist runs 1 3`.")
    if not which:
        if not history:
            print(f"no run recorded yet in {results / runs.RUNS_DIR}: `fmnist report` records "
                  "the first.")
        for line in runs.history_lines(history):
            print(line)
        return 0
    try:
        a, b = (runs.find(history, key) for key in which)
    except runs.RunHistoryError as err:
        raise ParamsError(str(err)) from None
    for line in runs.comparison_lines(a, b, history):
        print(line)
    return 0


def set_repository(root: Path, url: str | None, check: bool = False) -> int:
    """`fmnist repository`: write the address everywhere it lives, or `check` that it is."""
    from fmnist import launch  # noqa: PLC0415 - nbformat: the report extra

    url = url or launch.git_repository(root)
    if url is None:
        raise ParamsError("no GitHub remote `origin` in this checkout: give the address, "
                          "e.g. `fmnist repository https://github.com/<owner>/<name>`.")
    try:
        if check:
            wrong = launch.disagreeing(root, url)
            if wrong:
                print(f"fmnist: these name another repository than {url}: {', '.join(wrong)}. "
                      f"Run `fmnist repository {url}` and commit the result.", file=sys.stderr)
                return 1
            print(f"repository: every place names {url}")
            return 0
        changed = launch.set_repository(root, url)
    except ValueError as err:
        raise ParamsError(str(err)) from None
    print(f"repository: {launch.config_repository(root)} ({len(changed)} files rewritten)")
    return 0


def dispatch(args: argparse.Namespace) -> int:
    """Run the chosen command; return the exit code."""
    if args.command == "data":
        ds = load_dataset(args.data_dir, allow_download=not args.no_download)
        print(f"Fashion-MNIST verified in {ds.source} ({describe_source(ds.source, args.data_dir)})"
              f": {len(ds.y_train):,} training and {len(ds.y_test):,} test images.")
        return 0
    root = project_root(args.root)
    if args.command == "repository":
        return set_repository(root, args.url, args.check)
    if args.command == "verify":  # a scratch copy: neither the lock nor the results are needed
        return run_verify(root, args)
    if args.command == "publish":
        from fmnist import site  # noqa: PLC0415 - the report extra

        target = site.publish_site(root, args.remote, args.branch)
        print(f"published {root / '_build' / 'html'} to {target}")
        return 0
    params_path = Path(args.params)
    if not params_path.is_absolute():
        params_path = (Path.cwd() / params_path) if params_path.exists() else root / params_path
    profile = load_profile(params_path, getattr(args, "overrides", None))
    try:  # reject unsafe output paths before any work
        results_path(root, profile.shared.results_dir)
    except PathError as err:
        raise ParamsError(f"{params_path}: `results_dir`: {err}") from None
    if profile.shared.data_dir:  # a named data folder must hold the data, before any chapter
        try:
            find_data_dir(profile.shared.data_dir, allow_download=False)
        except DataError as err:
            raise DataError(f"{params_path}: {err}") from None
    if args.command == "runs":  # reads the history only: no lock needed
        return show_runs(results_path(root, profile.shared.results_dir), args.which)
    if getattr(args, "in_process", False):  # a chief or worker: its launcher holds the lock
        return run_tune(args, root, profile)
    with project_lock(root, wait=not args.no_wait):
        return _run_locked(args, root, profile)


def _run_locked(args: argparse.Namespace, root: Path, profile) -> int:
    from fmnist import report  # noqa: PLC0415 - the report extra

    if args.command == "tune":
        return run_tune(args, root, profile)
    if args.command == "report":
        report.run_report(root, profile, list(SLUGS), force=args.force, jobs=args.jobs)
    elif args.command == "run":  # the named chapter always reruns; those after it if stale
        report.run_report(root, profile, downstream(args.chapter),
                          force=args.force or [args.chapter], jobs=args.jobs)
    return build(root, profile, announce=args.command != "build")


def build(root: Path, profile, announce: bool = True) -> int:
    """Render the site from the last executed chapters; say where it is."""
    from fmnist import site  # noqa: PLC0415 - the report extra

    start = time.perf_counter()
    if announce:
        print("building the site ...", flush=True)
    index = site.build_site(root, results_path(root, profile.shared.results_dir))
    print(f"site built in {time.perf_counter() - start:.1f} s; open {index}")
    return 0


def run_tune(args: argparse.Namespace, root: Path, profile) -> int:
    """The search alone, or a chief and N workers; then the chapters that depend on it."""
    from fmnist import console  # noqa: PLC0415 - jupyter_client: the report extra

    # TensorFlow's start-up lines, from this process and its workers, dropped as a kernel's are.
    with console.quiet_stderr():
        return _tune(args, root, profile)


def _tune(args: argparse.Namespace, root: Path, profile) -> int:
    from fmnist import report  # noqa: PLC0415 - the report extra

    if args.workers < 0:
        raise ParamsError(f"--workers must be 0 or more, got {args.workers}.")
    if args.in_process:  # one chief or worker of a distributed search: its share, nothing more
        distribute.search_here(root, profile)
        return 0
    try:
        per_worker = distribute.search_profile(root, profile, args.workers, args.params,
                                               args.overrides)
    except distribute.SearchFailed as err:
        raise report.ChapterFailed(f"the tuning search failed: {err}") from None
    print(f"search finished: {sum(per_worker.values())} trials " + ", ".join(
        f"{w}: {n}" for w, n in sorted(per_worker.items())))
    if args.no_report:
        return 0
    # One by one: the search has just run, and the comparison needs the tuning chapter.
    report.run_report(root, profile, downstream("tuning"), force=args.force, jobs=1)
    return build(root, profile)


def main(argv: list[str] | None = None) -> int:
    """Entry point: expected errors are one clear message and exit code 2, never a traceback."""
    args = make_parser().parse_args(argv)
    needs = missing_extra(args.command)
    if needs:
        print(f"fmnist: error: {needs}", file=sys.stderr)
        return 2
    settle_home()  # before any library or kernel looks for its caches
    with interrupt.handling_ctrl_c():
        try:
            interrupt.end_with_parent()  # a child of another `fmnist`: ends with it
            code = dispatch(args)
        except KeyboardInterrupt:
            return _interrupted()
        except Exception as err:
            if interrupt.pressed():  # the interrupt, wrapped by a library on its way out
                return _interrupted()
            return _failed(err)
        # A Ctrl-C swallowed after the last check: the work is done, but the user asked to stop.
        return _interrupted() if interrupt.pressed() else code


def _interrupted() -> int:
    """Stop the command's kernels and workers, then say what is kept (a terminal that closed
    takes the line with it)."""
    interrupt.ignore_signals()  # a second signal would cut the clean-up short
    interrupt.stop_children()
    with contextlib.suppress(OSError):
        print(interrupt.message(), file=sys.stderr)
    return interrupt.exit_code()


def _raised_by(module: str, *names: str) -> tuple[type[Exception], ...]:
    """The error classes `names` of `module` if it is loaded: an error of a module that was
    never imported cannot be the one raised, and importing the runner here would need the
    `report` extra (a runtime-only install reports `fmnist data`'s errors too)."""
    loaded = sys.modules.get(module)
    return tuple(getattr(loaded, name) for name in names) if loaded else ()


def _failed(err: Exception) -> int:
    """An expected error's one line and exit code; anything else is a bug, raised as is."""
    if isinstance(err, (*USAGE_ERRORS, *_raised_by("fmnist.site", "PublishError"))):
        print(f"fmnist: error: {err}", file=sys.stderr)
        return 2
    if isinstance(err, (*_raised_by("fmnist.report", "ChapterFailed"),
                        *_raised_by("fmnist.site", "SiteFailed"))):
        print(f"fmnist: {err}", file=sys.stderr)
        return 1
    full = _full_disk(err)
    if full is not None:
        where = f" while writing {full}" if full else ""
        print(f"fmnist: no space left on device{where}: the last complete results and site are "
              "kept as they were; free some space and run the same command again.",
              file=sys.stderr)
        return 1
    raise err


def _full_disk(err: Exception) -> str | None:
    """The file being written when the disk filled ("" if unknown), or None for another error;
    a folder copy (`shutil.Error`) reports each file it could not copy."""
    if isinstance(err, shutil.Error):
        for _, target, why in (e for e in err.args[0] if len(e) == 3):
            if os.strerror(errno.ENOSPC) in str(why) or os.strerror(errno.EDQUOT) in str(why):
                return str(target)
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return str(err.filename or "")
    return None


if __name__ == "__main__":
    sys.exit(main())
