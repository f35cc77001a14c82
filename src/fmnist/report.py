"""Run the chapters with papermill in order, rerunning only what is stale.

Executed notebooks live in `results/notebooks/` (never in `book/`, so `git status` stays clean);
`fmnist.site` renders them. What a chapter depends on is read from `chapters.PIPELINE`.

Longer than most modules: besides running chapters, it tells each way a chapter can fail (a
cell that raised, a kernel that died, a notebook an edit left unreadable, results it did not
write) from a chapter that ran, so that none of them is taken for fresh results.

papermill is imported only when a chapter is to run: a report whose chapters are all fresh
decides so, and builds the site, without it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import nbformat

from fmnist import executed, interrupt, paths, runs, schedule
from fmnist.chapters import PIPELINE, SLUGS, Chapter, chapter
from fmnist.console import Echo, prefixed
from fmnist.data import split_key
from fmnist.environment import package_versions, versions
from fmnist.params import Profile
from fmnist.paths import NOTEBOOKS_DIR, RUN_FILE, STAMP_FILE
from fmnist.results import (
    METRICS_FILE,
    REQUIRED,
    DamagedResults,
    atomic_write_text,
    damage,
    load_metrics,
)
from fmnist.tuning import ahead
from fmnist.tuning.distribute import SearchFailed
from fmnist.tuning.folders import search_state


def say(message: str) -> None:
    """Progress for the terminal, flushed at once (also when piped to a log). One write with
    its newline: `print` writes the two apart, and a chapter running beside could land between
    them."""
    sys.stdout.write(f"{message}\n")
    sys.stdout.flush()


class ChapterFailed(RuntimeError):
    """A chapter raised; the message names it, the failing cell and the kept notebook."""


def _hash_files(files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for f in sorted(files):
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()


def code_hash() -> str:
    """Hash of the package's source: any code change makes every chapter stale."""
    package = Path(__file__).parent
    return _hash_files(package.rglob("*.py"))


def chapter_inputs(slug: str, results: Path, profile: Profile | None = None) -> dict[str, Any]:
    """What a chapter reads from the chapters it depends on, as content, not file bytes.

    From the data chapter, its split; from a model chapter, its `metrics.json` (the tuning
    chapter compares with the CNN's validation accuracy; the comparison reads every model's).
    """
    def read(dep: str) -> Any:
        if dep == "data":
            return split_key(results)
        keys = chapter(slug).reads_metrics.get(dep)
        if keys:
            try:
                metrics = load_metrics(results / dep) or {}
            except DamagedResults:
                return "damaged"  # rerun once its chapter has made it again
            return {k: metrics.get(k) for k in keys}
        return _file_digest(results / dep / METRICS_FILE)

    inputs = {dep: read(dep) for dep in chapter(slug).reads}
    if profile is not None:
        inputs.update({name: state(results, profile)
                       for name, state in OTHER_INPUTS.get(slug, {}).items()})
    return inputs


def _search_state(results: Path, profile: Profile) -> Any:
    return search_state(results, profile.shared, profile.sections["tuning"],
                        profile.sections["cnn"])


# What a chapter reads besides other chapters' results: the tuning chapter resumes the search
# saved in its folder, which `fmnist tune` can change between runs of the chapter.
OTHER_INPUTS: dict[str, dict[str, Callable[[Path, Profile], Any]]] = {
    "tuning": {"search": _search_state}}


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def chapter_stamp(root: Path, profile: Profile, ch: Chapter, results: Path) -> str:
    """What a chapter's output depends on: its parameters, notebook, the code, its inputs and
    the installed versions of the packages that shape results (a new lock reruns it)."""
    blob = json.dumps({"params": profile.chapter(ch.slug),
                       "inputs": chapter_inputs(ch.slug, results, profile),
                       "notebook": _hash_files([ch.path(root)]),
                       "code": code_hash(), "environment": package_versions()},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _read_stamp(folder: Path) -> str | None:
    path = folder / STAMP_FILE
    try:
        return json.loads(path.read_text())["stamp"]
    except (OSError, ValueError, KeyError, TypeError):  # missing or damaged: the chapter is stale
        return None


def _ran_with_these_inputs(root: Path, profile: Profile, ch: Chapter, results: Path) -> bool:
    """Whether the chapter ran to the end with exactly these inputs (its stamp)."""
    notebook = results / NOTEBOOKS_DIR / ch.notebook
    stamp = _read_stamp(results / ch.slug)
    return notebook.is_file() and stamp == chapter_stamp(root, profile, ch, results)


def why_stale(root: Path, profile: Profile, ch: Chapter, results: Path) -> str | None:
    """Why the chapter must run again: "changed" (it did not run to its end with exactly these
    inputs) or "damaged results (...)" (a file its readers need is not sound, `results.damage`);
    None when it is fresh. The runner decides with this function alone."""
    if not _ran_with_these_inputs(root, profile, ch, results):
        return "changed"
    damaged = damage(results, ch.slug)
    return f"damaged results ({damaged})" if damaged else None


def _read_chapter(path: Path, slug: str) -> None:
    """Refuse a chapter whose notebook an edit left unreadable, before a kernel starts."""
    try:
        nbformat.read(path, as_version=4)
    except Exception as err:  # nbformat's errors for a broken file have no common base
        raise ChapterFailed(
            f"chapter `{slug}`: book/{path.name} is not a readable notebook "
            f"({type(err).__name__}: {str(err)[:200]}). Undo the edit (`git checkout "
            f"book/{path.name}`) or repair it in Jupyter.") from None


def _last_started_cell(out: Path) -> str:
    """The last cell papermill started in a kept notebook (where a dead kernel stopped), in
    words."""
    try:
        cells = nbformat.read(out, as_version=4).cells
    except Exception:  # the notebook is kept as papermill left it; its cell is a detail
        return "a cell"
    started = [i for i, c in enumerate(cells)
               if c.metadata.get("papermill", {}).get("start_time")]
    return f"cell {started[-1]}" if started else "a cell"


def _signatures(folder: Path, names: Iterable[str]) -> dict[str, tuple[int, int, int] | None]:
    """Each file's inode, time and size (None if absent): an atomic write changes the inode,
    whatever the file system's clock resolution."""
    out = {}
    for name in names:
        try:
            st = (folder / name).stat()
            out[name] = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            out[name] = None
    return out


def _check_written(results: Path, ch: Chapter, before: dict, out: Path) -> None:
    """A chapter that ran to its end must have written every file its readers need in this
    run, soundly: a cell removed by an edit would leave the previous run's files in place."""
    folder = results / ch.slug
    after = _signatures(folder, before)
    unwritten = [f"{folder / name}" for name, sig in after.items()
                 if sig is None or sig == before[name]]
    problem = (f"ran to its end without writing {', '.join(unwritten)} (was a cell that "
               "writes it removed?)" if unwritten else None)
    damaged = damage(results, ch.slug)
    if problem or damaged:
        raise ChapterFailed(
            f"chapter `{ch.slug}` {problem or f'wrote damaged results ({damaged})'}; its "
            f"previous results are not used and the chapters after it did not run.\nThe "
            f"executed notebook is kept for inspection: {out}")


def execute_chapter(root: Path, profile: Profile, ch: Chapter, results: Path,
                    niceness: int = 0) -> float:
    """Execute one chapter with papermill into `results/notebooks/`, its kernel at `niceness`
    (`console.lower_priority`); return its seconds."""
    import papermill as pm  # noqa: PLC0415 - only when a chapter runs (module docstring)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the kernels inherit it: C++ warnings only
    source = ch.path(root)
    out = results / NOTEBOOKS_DIR / ch.notebook
    out.parent.mkdir(parents=True, exist_ok=True)
    (results / ch.slug / STAMP_FILE).unlink(missing_ok=True)
    _read_chapter(source, ch.slug)
    before = _signatures(results / ch.slug, REQUIRED.get(ch.slug, ()))
    start = time.perf_counter()
    try:
        pm.execute_notebook(str(source), str(out),
                            parameters=profile.chapter(ch.slug), cwd=str(source.parent),
                            kernel_name="python3", progress_bar=False, log_output=False,
                            stdout_file=Echo(indent=line_prefix(ch.slug)),
                            kernel_manager_class=prefixed(line_prefix(ch.slug), niceness))
    except pm.PapermillExecutionError as err:
        raise ChapterFailed(
            f"chapter `{ch.slug}` failed in cell {err.cell_index} (execution count "
            f"{err.exec_count}): {err.ename}: {err.evalue}\nThe executed notebook is kept "
            f"for inspection: {out}") from None
    except Exception as err:
        # nbclient's error, raised through papermill (nbclient is papermill's, not ours)
        if type(err).__name__ != "DeadKernelError":
            raise
        interrupt.stop_if_interrupted()  # a kernel stopped with the command is no failure
        raise ChapterFailed(
            f"chapter `{ch.slug}` failed in {_last_started_cell(out)}: its kernel died (out of "
            f"memory, or a call that ends the process)\nThe executed notebook is kept for "
            f"inspection: {out}") from None
    _check_written(results, ch, before, out)
    seconds = time.perf_counter() - start
    executed.finish_notebook(out, seconds, profile)
    stamp = {"stamp": chapter_stamp(root, profile, ch, results), "seconds": seconds}
    atomic_write_text(results / ch.slug / STAMP_FILE, json.dumps(stamp, indent=2))
    return seconds


def line_prefix(step: str) -> str:
    """What starts each line a step prints (its epochs, its trials, its warnings): its name,
    under the chapter's own lines, so that chapters running side by side stay readable."""
    return f"{'':6}{step:<11} "


def _relative(text: str, root: Path) -> str:
    """A message about a project file, naming it from the project folder."""
    return text.replace(f"{root}/", "")


def run_chapters(root: Path, profile: Profile, selected: list[str],
                 force: bool | Iterable[str] = False,
                 log: Callable[[str], None] = say, jobs: int = 1) -> dict[str, float]:
    """Execute the selected chapters, skipping fresh ones; return the seconds of those that ran
    (and of the search, `search`, when it ran ahead of its chapter).

    `force` is True (rerun all selected) or the chapters to rerun even when fresh. Up to `jobs`
    chapters run side by side as soon as the chapters they read have ended (`fmnist.schedule`);
    with more than one, the tuning search starts as soon as the data is ready, beside the model
    chapters, and the tuning chapter resumes it. `jobs` 1 runs them one by one, in order.
    """
    results = paths.results_path(root, profile.shared.results_dir)
    todo = [ch for ch in PIPELINE if ch.slug in selected]
    numbers = {ch.slug: f"[{i}/{len(todo)}] {ch.slug:<11}" for i, ch in enumerate(todo, 1)}
    background: set[str] = set()  # chapters with time to spare, known once the steps are
    niceness = schedule.background_niceness() if jobs > 1 else 0

    def run(ch: Chapter) -> float | None:
        prefix = numbers[ch.slug]
        stale = "forced" if _forced(force, ch.slug) else why_stale(root, profile, ch, results)
        if stale is None:
            log(f"{prefix} up to date (parameters, notebook, code and inputs unchanged)")
            return None
        if stale.startswith("damaged"):
            log(f"{prefix} {_relative(stale, root)}: running it again")
        log(f"{prefix} running {ch.notebook} ...")
        seconds = execute_chapter(root, profile, ch, results,
                                  niceness if ch.slug in background else 0)
        log(f"{prefix} done in {seconds:.1f} s")
        return seconds

    steps = [schedule.Step(ch.slug, ch.reads, functools.partial(run, ch)) for ch in todo]
    if jobs > 1 and _search_ahead(root, profile, results, todo, force):
        steps = searching_first(steps, root, profile, log)
    weight = _previous_seconds(results) or TYPICAL_SECONDS
    if jobs > 1:
        background.update(schedule.background_steps(steps, weight))
    seconds = schedule.run_steps(steps, jobs, weight=weight)
    return {step: s for step, s in seconds.items() if s is not None}


def _search_ahead(root: Path, profile: Profile, results: Path, todo: list[Chapter],
                  force: bool | Iterable[str]) -> bool:
    """Whether to start the tuning search before its chapter: the chapter is to run and stale
    now. (If it turns stale only once the CNN chapter has rerun, it runs its search itself.)
    Not when the profile starts its search afresh (`tuning.overwrite`): the chapter would then
    discard the search run ahead and search again."""
    tuning = next((ch for ch in todo if ch.slug == "tuning"), None)
    if tuning is None or profile.sections["tuning"].overwrite:
        return False
    return _forced(force, "tuning") or why_stale(root, profile, tuning, results) is not None


def _forced(force: bool | Iterable[str], slug: str) -> bool:
    """Whether `force` (True, or the chapters to rerun even when fresh) names `slug`."""
    return force is True or (force is not False and slug in force)


def searching_first(steps: list[schedule.Step], root: Path, profile: Profile,
                    log: Callable[[str], None]) -> list[schedule.Step]:
    """`steps` with the tuning search as a step of its own, after the data, before the tuning
    chapter (which then resumes a finished search: only its retrain and decision remain)."""
    def search() -> float:
        log(f"{line_prefix('search')}running the tuning search beside the model chapters ...")
        try:
            seconds = ahead.run_search_process(root, profile, prefix=line_prefix("search"))
        except SearchFailed as err:
            interrupt.stop_if_interrupted()  # a search stopped with the command is no failure
            raise ChapterFailed(f"the tuning search failed: {err}") from None
        log(f"{line_prefix('search')}done in {seconds:.1f} s")
        return seconds

    return [*(schedule.Step(s.name, (*s.needs, "search") if s.name == "tuning" else s.needs,
                            s.run) for s in steps), schedule.Step("search", ("data",), search)]


# Roughly each step's seconds in the default report on two cores (as `bench/run.py` measured
# them), for the schedule of a first run, which has no seconds of its own to go by: only their
# proportions matter, to order the steps and find those with time to spare.
TYPICAL_SECONDS = {"data": 6.0, "baseline": 47.0, "dense": 74.0, "cnn": 266.0, "search": 299.0,
                   "tuning": 407.0, "comparison": 5.0}


def _previous_seconds(results: Path) -> dict[str, float]:
    """Each step's seconds in the last recorded run (the schedule starts the step heading the
    longest path first; the run record keeps those of chapters that did not rerun)."""
    try:
        return json.loads((results / RUN_FILE).read_text()).get("chapter_seconds", {})
    except (OSError, ValueError, AttributeError):
        return {}


def write_run_record(results: Path, profile: Profile, timings: dict[str, float],
                     wall: float, jobs: int = 1) -> None:
    """Record the run's metadata for the intro page and the benchmark.

    Chapters that were up to date keep the seconds of the run that produced them, so
    `total_seconds` is what producing the current results took, chapter after chapter; with
    chapters side by side (`jobs`), each one's wall seconds include sharing the machine.
    """
    seconds = {**_previous_seconds(results), **timings}
    if "tuning" in timings and "search" not in timings:  # this time the chapter searched itself
        seconds.pop("search", None)
    record = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "profile": profile.name,
        "params_hash": profile.digest(),
        "params": profile.as_dict(),
        "chapter_seconds": seconds,
        "total_seconds": sum(seconds.values()),
        "last_invocation_seconds": wall,
        "jobs": jobs,
        "versions": versions(),
    }
    atomic_write_text(results / RUN_FILE, json.dumps(record, indent=2))


def run_report(root: Path, profile: Profile, selected: list[str] | None = None,
               force: bool | Iterable[str] = False,
               log: Callable[[str], None] = say, jobs: int = 1) -> dict[str, float]:
    """Execute the selected chapters (all by default, up to `jobs` side by side) and record the
    run; return the seconds of each chapter that ran. Building the site is `site.build_site`'s
    job."""
    start = time.perf_counter()
    results = paths.results_path(root, profile.shared.results_dir)
    timings = run_chapters(root, profile, selected or list(SLUGS), force, log, jobs)
    write_run_record(results, profile, timings, time.perf_counter() - start, jobs)
    # The run history: what this run of the model chapters moved on validation.
    if runs.record_run(results, profile, list(timings), profile.sections["comparison"].history):
        for line in runs.after_run_lines(results):
            log(line)
    return timings
