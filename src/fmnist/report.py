"""Run the chapters with papermill in order, rerunning only what is stale.

Executed notebooks live in `results/notebooks/` (never in `book/`, so `git status` stays clean);
`fmnist.site` renders them. What a chapter depends on is read from `chapters.PIPELINE`.

Longer than most modules: besides running chapters, it tells each way a chapter can fail (a
cell that raised, a kernel that died, a notebook an edit left unreadable, results it did not
write) from a chapter that ran, so that none of them is taken for fresh results.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fmnist import interrupt, paths, runs
from fmnist.chapters import PIPELINE, SLUGS, Chapter, chapter
from fmnist.environment import machine_description, package_versions, versions
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

HIDDEN_TAGS = ("parameters", "injected-parameters")


def say(message: str) -> None:
    """Progress for the terminal, flushed at once (also when piped to a log)."""
    print(message, flush=True)


class ChapterFailed(RuntimeError):
    """A chapter raised; the message names it, the failing cell and the kept notebook."""


def chapters() -> list[Chapter]:
    """All chapters in execution order (`chapters.PIPELINE`)."""
    return list(PIPELINE)


def _hash_files(files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for f in sorted(files):
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()


def code_hash() -> str:
    """Hash of the package's source: any code change makes every chapter stale."""
    return _hash_files(Path(__file__).parent.glob("*.py"))


def chapter_inputs(slug: str, results: Path, profile: Profile | None = None) -> dict[str, Any]:
    """What a chapter reads from the chapters it depends on, as content, not file bytes.

    From the data chapter, its split; from a model chapter, its `metrics.json` (the tuning
    chapter compares with the CNN's validation accuracy; the comparison reads every model's).
    """
    from fmnist.data import split_key

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
    from fmnist.search import search_state

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
                       "notebook": _hash_files([root / "book" / ch.notebook]),
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


def is_fresh(root: Path, profile: Profile, ch: Chapter, results: Path) -> bool:
    """True when the chapter ran to the end with exactly these inputs and every file its
    readers need is sound (`results.damage`)."""
    return (_ran_with_these_inputs(root, profile, ch, results)
            and damage(results, ch.slug) is None)


def hide_parameter_cells(nb) -> None:
    """Tag the parameters cells `remove-cell` (papermill drops extra tags on every run)."""
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if any(t in tags for t in HIDDEN_TAGS) and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]


def drop_noise_outputs(nb) -> None:
    """Remove TensorFlow's and ipykernel's start-up lines from the notebook's stderr outputs
    (the kernel captures them from its file descriptors); real warnings stay on the page."""
    from fmnist.console import is_noise

    for cell in nb.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = [line for line in output.text.splitlines(keepends=True)
                         if not is_noise(line)]
                if not "".join(lines).strip():
                    continue
                output.text = "".join(lines)
            kept.append(output)
        if cell.cell_type == "code":
            cell.outputs = kept


def append_run_note(nb, seconds: float, profile: Profile) -> None:
    """Add a closing markdown cell with the chapter's run time and the profile it ran with."""
    import nbformat

    when = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    nb.cells.append(nbformat.v4.new_markdown_cell(
        f"*This chapter ran in {seconds:.1f} s on {when}, profile `{profile.name}` "
        f"(parameters hash `{profile.digest()}`), on {machine_description()}.*"))


def finish_notebook(path: Path, seconds: float, profile: Profile) -> None:
    """Ready an executed chapter for the site, reading and writing the notebook once."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    hide_parameter_cells(nb)
    drop_noise_outputs(nb)
    append_run_note(nb, seconds, profile)
    nbformat.write(nb, path)


def _read_chapter(path: Path, slug: str) -> None:
    """Refuse a chapter whose notebook an edit left unreadable, before a kernel starts."""
    import nbformat

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
    import nbformat

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


def execute_chapter(root: Path, profile: Profile, ch: Chapter, results: Path) -> float:
    """Execute one chapter with papermill into `results/notebooks/`; return its seconds."""
    import papermill as pm

    from fmnist.console import Echo, QuietKernelManager

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the kernels inherit it: C++ warnings only
    source = root / "book" / ch.notebook
    out = results / NOTEBOOKS_DIR / ch.notebook
    out.parent.mkdir(parents=True, exist_ok=True)
    (results / ch.slug / STAMP_FILE).unlink(missing_ok=True)
    _read_chapter(source, ch.slug)
    before = _signatures(results / ch.slug, REQUIRED.get(ch.slug, ()))
    start = time.perf_counter()
    try:
        pm.execute_notebook(str(source), str(out),
                            parameters=profile.chapter(ch.slug), cwd=str(root / "book"),
                            kernel_name="python3", progress_bar=False, log_output=False,
                            stdout_file=Echo(), kernel_manager_class=QuietKernelManager)
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
    finish_notebook(out, seconds, profile)
    stamp = {"stamp": chapter_stamp(root, profile, ch, results), "seconds": seconds}
    atomic_write_text(results / ch.slug / STAMP_FILE, json.dumps(stamp, indent=2))
    return seconds


def _relative(text: str, root: Path) -> str:
    """A message about a project file, naming it from the project folder."""
    return text.replace(f"{root}/", "")


def run_chapters(root: Path, profile: Profile, selected: list[str],
                 force: bool | Iterable[str] = False,
                 log: Callable[[str], None] = say) -> dict[str, float]:
    """Execute the selected chapters in order, skipping fresh ones.

    `force` is True (rerun all selected) or the chapters to rerun even when fresh.
    """
    results = paths.results_path(root, profile.shared.results_dir)
    timings: dict[str, float] = {}
    todo = [ch for ch in chapters() if ch.slug in selected]
    for i, ch in enumerate(todo, start=1):
        interrupt.stop_if_interrupted()
        prefix = f"[{i}/{len(todo)}] {ch.slug:<11}"
        forced = force is True or (force is not False and ch.slug in force)
        # Each results folder is checked once (the check reads every file a reader needs).
        damaged = None if forced or not _read_stamp(results / ch.slug) else damage(results,
                                                                                  ch.slug)
        if damaged:
            log(f"{prefix} damaged results ({_relative(damaged, root)}): running it again")
        elif not forced and _ran_with_these_inputs(root, profile, ch, results):
            log(f"{prefix} up to date (parameters, notebook, code and inputs unchanged)")
            continue
        log(f"{prefix} running {ch.notebook} ...")
        timings[ch.slug] = execute_chapter(root, profile, ch, results)
        log(f"{prefix} done in {timings[ch.slug]:.1f} s")
    return timings


def write_run_record(results: Path, profile: Profile, timings: dict[str, float],
                     wall: float) -> None:
    """Record the run's metadata for the intro page and the benchmark.

    Chapters that were up to date keep the seconds of the run that produced them, so
    `total_seconds` is what producing the current results took.
    """
    previous = {}
    if (results / RUN_FILE).is_file():
        previous = json.loads((results / RUN_FILE).read_text()).get("chapter_seconds", {})
    seconds = {**previous, **timings}
    record = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "profile": profile.name,
        "params_hash": profile.digest(),
        "params": profile.as_dict(),
        "chapter_seconds": seconds,
        "total_seconds": sum(seconds.values()),
        "last_invocation_seconds": wall,
        "versions": versions(),
    }
    atomic_write_text(results / RUN_FILE, json.dumps(record, indent=2))


def run_report(root: Path, profile: Profile, selected: list[str] | None = None,
               force: bool | Iterable[str] = False,
               log: Callable[[str], None] = say) -> dict[str, float]:
    """Execute the selected chapters (all by default) and record the run; return the seconds of
    each chapter that ran. Building the site is `site.build_site`'s job."""
    start = time.perf_counter()
    results = paths.results_path(root, profile.shared.results_dir)
    timings = run_chapters(root, profile, selected or list(SLUGS), force, log)
    write_run_record(results, profile, timings, time.perf_counter() - start)
    # The run history: what this run of the model chapters moved on validation.
    if runs.record_run(results, profile, list(timings), profile.sections["comparison"].history):
        for line in runs.after_run_lines(results):
            log(line)
    return timings
