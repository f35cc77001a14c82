"""The `fmnist` command's arguments: every command, its options and their help (`cli` runs
what they ask for)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from fmnist import __version__
from fmnist.chapters import MODELS, SLUGS

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
