"""The `fmnist` command: argument parsing and dispatch; the work is done in `report`,
`tuning.distribute`, `verify` and `site`."""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib.util
import os
import shutil
import sys
from pathlib import Path

from fmnist import interrupt
from fmnist.chapters import MODELS, SLUGS, downstream
from fmnist.data import DataError, describe_source, find_data_dir, load_dataset
from fmnist.environment import settle_home
from fmnist.lock import LockBusy, project_lock
from fmnist.params import load_profile
from fmnist.paths import PathError, project_root, results_path
from fmnist.results import DamagedResults
from fmnist.schema import ParamsError

DEFAULT_PARAMS = "params/default.yaml"
DESCRIPTION = """\
A reproducible comparative study of models on Fashion-MNIST: logistic regression, a dense
network, a CNN and a KerasTuner-tuned CNN, trained and chosen on a validation split and tested
once on the official test set. The chapters are Jupyter notebooks in book/, run with a parameter
profile from params/, and rendered into a static site in _build/html/.

main commands:
  fmnist report                  run every chapter that is out of date, then build the site
  fmnist run cnn --set cnn.epochs=20
                                 rerun one chapter (and what depends on it) with new parameters
  fmnist build                   render the site from the last executed chapters
  fmnist data                    find and verify the data set; say where it is
  fmnist verify --quick          rerun a chapter and compare its test predictions with a
                                 published run (exit 0: identical, 1: they differ)
"""
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
VERIFY_HELP = ("rerun model chapters in a scratch copy and compare each model's test predictions "
               "with a published run (exit 0: all identical, 1: any differs)")


def _add_profile_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default=DEFAULT_PARAMS, help="parameter profile (YAML)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one parameter, e.g. --set cnn.epochs=20 (repeatable)")
    p.add_argument("--force", action="store_true",
                   help="rerun chapters even when their inputs are unchanged")
    p.add_argument("--jobs", type=_jobs, default=os.cpu_count() or 1, metavar="N",
                   help="chapters run side by side at most (1: one by one, in order); the "
                        "numbers do not depend on it")
    _add_wait_arg(p)


def _jobs(text: str) -> int:
    """`--jobs`: a whole number of chapters, at least one."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r} (1 runs the "
                                         "chapters one by one)")
    return value


class _DefaultsShown(argparse.HelpFormatter):
    """Help that shows each option's default where it has a meaningful one (not for flags)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        meaningful = not (default is None or isinstance(default, bool) or default == []
                          or default is argparse.SUPPRESS)
        if meaningful and action.option_strings:
            text += " (default: %(default)s)"
        return text


def _with_defaults_shown(add_parser):
    """Sub-commands whose help shows their options' defaults."""
    def add(name: str, **kwargs):
        return add_parser(name, formatter_class=_DefaultsShown, description=kwargs.get("help"),
                          **kwargs)
    return add


def _add_wait_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-wait", action="store_true",
                   help="if another run holds this project folder, stop at once (exit 2) "
                        "instead of waiting for it")


def make_parser() -> argparse.ArgumentParser:
    """The command line: report, run, tune, data, build, verify, publish, repository."""
    from fmnist import __version__

    parser = argparse.ArgumentParser(prog="fmnist", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--root", type=Path, default=None,
                        help="project folder (default: found from the current folder)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser = _with_defaults_shown(sub.add_parser)
    _add_profile_args(sub.add_parser("report", help="run every chapter and build the site"))
    run = sub.add_parser("run", help="rerun one chapter and those that depend on it, rebuild")
    run.add_argument("chapter", choices=SLUGS, metavar="CHAPTER",
                     help=f"the chapter to rerun: one of {', '.join(SLUGS)}")
    _add_profile_args(run)
    tune = sub.add_parser("tune", help="run the tuning search (--workers N: KerasTuner's "
                          "distributed mode on this machine), then the chapters after it")
    _add_profile_args(tune)
    tune.add_argument("--workers", type=int, default=0,
                      help="workers besides the chief oracle (0: one process)")
    tune.add_argument("--no-report", action="store_true",
                      help="only search; do not rerun the tuning and comparison chapters")
    tune.add_argument("--in-process", action="store_true",
                      help="run the search in this process as the KERASTUNER_* variables say "
                           "(what each chief or worker process runs; use it across machines)")
    data = sub.add_parser("data", help="find and verify Fashion-MNIST; say where it is")
    data.add_argument("--data-dir", default=None, help="folder to look in first")
    data.add_argument("--no-download", action="store_true", help="never try Keras' download")
    build = sub.add_parser("build", help="render the site from the last executed chapters")
    build.add_argument("--params", default=DEFAULT_PARAMS, help="profile naming results_dir")
    _add_wait_arg(build)
    _add_verify_parser(sub)
    publish = sub.add_parser("publish", help="push _build/html to a gh-pages branch (ghp-import)")
    publish.add_argument("--remote", default="origin", help="git remote to push to")
    publish.add_argument("--branch", default="gh-pages", help="branch that holds the site")
    repo = sub.add_parser("repository", help="point the site's launch buttons and every "
                          "chapter's setup cell at a GitHub repository")
    repo.add_argument("url", nargs="?", default=None,
                      help="https://github.com/<owner>/<name> (default: the git remote origin)")
    repo.add_argument("--check", action="store_true",
                      help="change nothing; exit 1 naming every place that names another "
                           "address (the Pages workflow runs this)")
    return parser


def _add_verify_parser(sub) -> None:
    history = sub.add_parser("runs", help="list the run history, or compare two runs on "
                             "validation first (`fmnist runs 1 3`)")
    history.add_argument("which", nargs="*", metavar="RUN",
                         help="two runs to compare: a number from the list (1 is the oldest) or "
                              "the start of a run's date")
    history.add_argument("--params", default=DEFAULT_PARAMS,
                         help="the profile whose results folder holds the history")
    verify = sub.add_parser("verify", help=VERIFY_HELP)
    verify.add_argument("chapters", nargs="*", metavar="CHAPTER",
                        help=f"model chapters to rerun (default: all of {', '.join(MODELS)})")
    verify.add_argument("--quick", action="store_true",
                        help="check one chapter, the dense network's (under two minutes)")
    verify.add_argument("--against", type=Path, default=None,
                        help="the published run: a results folder, bench/results/latest.json or "
                             "a run's JSON file (default: the project's results folder)")
    verify.add_argument("--params", default=None,
                        help="profile to rerun with (default: the one the published run records)")
    verify.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override one parameter (repeatable)")


def run_verify(root: Path, args: argparse.Namespace) -> int:
    """`fmnist verify`: the published run defaults to the project's results folder."""
    from fmnist import verify

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
    from fmnist import runs

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
    from fmnist import launch

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
    from fmnist import site

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
    from fmnist import report

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
    import time

    from fmnist import site

    start = time.perf_counter()
    if announce:
        print("building the site ...", flush=True)
    index = site.build_site(root, results_path(root, profile.shared.results_dir))
    print(f"site built in {time.perf_counter() - start:.1f} s; open {index}")
    return 0


def run_tune(args: argparse.Namespace, root: Path, profile) -> int:
    """The search alone, or a chief and N workers; then the chapters that depend on it."""
    from fmnist import console

    # TensorFlow's start-up lines, from this process and its workers, dropped as a kernel's are.
    with console.quiet_stderr():
        return _tune(args, root, profile)


def _tune(args: argparse.Namespace, root: Path, profile) -> int:
    from fmnist import report
    from fmnist.tuning import distribute

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
