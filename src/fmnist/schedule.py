"""Steps side by side: each step starts once every step it needs has ended, at most `jobs` at a
time, the one heading the longest remaining path first.

The runner gives each chapter (and the tuning search, which needs only the data) to a worker
thread; the work itself happens in the step's own process (a notebook kernel, a search), so the
threads only wait. A step's thread count is one of its parameters, never the schedule's: what a
step computes does not depend on what runs beside it.

When a step fails, or the command is stopped, the steps still running are stopped with it (their
processes ended through `interrupt.stop_children`), and the first failure is raised.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fmnist import interrupt
from fmnist.schema import ParamsError


@dataclass(frozen=True)
class Step:
    """One unit of the schedule: a name, the steps it needs, and its work (returns seconds)."""

    name: str
    needs: tuple[str, ...]
    run: Callable[[], float | None]


def path_lengths(steps: list[Step], weight: Mapping[str, float]) -> dict[str, float]:
    """Each step's weight plus the longest chain of steps that need it, directly or not."""
    needed_by = {s.name: [t.name for t in steps if s.name in t.needs] for s in steps}
    out: dict[str, float] = {}
    visiting: set[str] = set()

    def length(name: str) -> float:
        if name in visiting:
            raise ValueError(f"steps that cannot start: {name} needs itself, directly or not")
        if name not in out:
            visiting.add(name)
            out[name] = weight.get(name, 1.0) + max((length(t) for t in needed_by[name]),
                                                    default=0.0)
            visiting.discard(name)
        return out[name]

    for s in steps:
        length(s.name)
    return out


# Side by side, a step off the longest chain (`background_steps`: in the default report, the
# logistic regression and the dense network) runs its process at this niceness: the steps that
# set the schedule's length (the search, the tuning chapter's retrain) then lose no time to it,
# and it computes on what they leave idle. Its numbers do not depend on it. The variable
# changes it (0: every chapter at the command's own priority; bench/levers.py compares).
NICENESS_VARIABLE = "FMNIST_BACKGROUND_NICENESS"
BACKGROUND_NICENESS = 10


def background_niceness() -> int:
    """How many steps below the command's priority chapters with time to spare run:
    `FMNIST_BACKGROUND_NICENESS` (0 to 19), else 10."""
    value = os.environ.get(NICENESS_VARIABLE, "").strip()
    if not value:
        return BACKGROUND_NICENESS
    if not (value.isdigit() and int(value) <= 19):
        raise ParamsError(f"{NICENESS_VARIABLE}={value!r}: give a whole number from 0 (every "
                          "chapter at the command's priority) to 19, or unset it.")
    return int(value)


def background_steps(steps: list[Step], weight: Mapping[str, float],
                     share: float = 0.5) -> set[str]:
    """The steps with time to spare: the longest chain through each (the steps it needs, itself
    and the steps that need it) is under `share` of the schedule's longest. They can run at a
    lower CPU priority, on what the steps of the longest chain leave idle, without delaying it."""
    after = path_lengths(steps, weight)  # also refuses a cycle
    needs = {s.name: [n for n in s.needs if n in after] for s in steps}

    @functools.cache
    def before(name: str) -> float:
        return max((before(n) + weight.get(n, 1.0) for n in needs[name]), default=0.0)

    through = {name: before(name) + length for name, length in after.items()}
    longest = max(through.values(), default=0.0)
    return {name for name, length in through.items() if length < share * longest}


def run_steps(steps: list[Step], jobs: int,
              weight: Mapping[str, float] | None = None) -> dict[str, float | None]:
    """Run `steps` (each needing only steps listed before it, or none of the list) with up to
    `jobs` at once; return what each step's work returned (its seconds, or None when it had
    nothing to do). With `jobs` 1 they run one by one in the listed order."""
    names = [s.name for s in steps]
    unknown = {n for s in steps for n in s.needs} - set(names)
    steps = [Step(s.name, tuple(n for n in s.needs if n not in unknown), s.run) for s in steps]
    rank = path_lengths(steps, weight or {}) if jobs > 1 else {}
    order = sorted(steps, key=lambda s: (-rank.get(s.name, 0.0), names.index(s.name)))
    done: dict[str, float | None] = {}
    running: dict[cf.Future, Step] = {}
    pending = list(order)
    with cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        try:
            while pending or running:
                for step in [s for s in pending if set(s.needs) <= set(done)]:
                    if len(running) >= jobs:
                        break
                    interrupt.stop_if_interrupted()
                    pending.remove(step)
                    running[pool.submit(step.run)] = step
                if not running:
                    raise ValueError(f"steps that cannot start: {[s.name for s in pending]}")
                finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for future in finished:
                    step = running.pop(future)
                    done[step.name] = future.result()  # a failure raises here
        except BaseException:
            _stop(running)
            raise
    return done


def _stop(running: dict[cf.Future, Step]) -> None:
    """Stop the steps still running and wait for their threads (their errors, caused by the
    stop, are dropped: the first failure or the signal is what the command reports)."""
    interrupt.stop_children_quietly()
    cf.wait(running)
    interrupt.end_quiet()
