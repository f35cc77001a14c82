"""The tuning search run ahead of its chapter: a process of its own that the report starts as
soon as the data is ready, beside the model chapters.

The search needs nothing of the CNN chapter (only the tuning chapter's keep-or-reject decision
does), and a search resumes from its folder trial by trial, each trial seeded by its own values:
the tuning chapter that follows finds it finished and runs only the retrain and the decision,
with the same numbers as a chapter that searched itself.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from fmnist import interrupt
from fmnist.console import Echo, forward
from fmnist.params import Profile
from fmnist.tuning.distribute import SearchFailed


def run_search_process(root: Path, profile: Profile, prefix: str = "") -> float:
    """Run `profile`'s search in a child process (`fmnist tune --in-process`), its lines echoed
    after `prefix`; return its seconds. The child is stopped with the command; `SearchFailed`
    if it ends with an error (its own message has reached the terminal)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fmnist-search-") as folder:
        # The profile as the runner holds it, overrides applied, under its own name.
        params = Path(folder) / f"{profile.name}.yaml"
        params.write_text(yaml.safe_dump(profile.as_dict(), sort_keys=False), encoding="utf-8")
        command = [sys.executable, "-m", "fmnist", "--root", str(root), "tune", "--in-process",
                   "--params", str(params)]
        proc = interrupt.track(subprocess.Popen(command, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE,
                                                env=interrupt.child_environment()))
        errors = forward(proc.stderr, prefix=prefix)
        echo = Echo(indent=prefix)
        for line in iter(proc.stdout.readline, b""):
            echo.write(line.decode(errors="replace"))
        code = proc.wait()
        errors.join(timeout=5)
    if code:
        raise SearchFailed(f"`{' '.join(command[1:5])} ...` exited with {code}")
    return time.perf_counter() - start
