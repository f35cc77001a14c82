"""Ctrl-C in the `fmnist` command: stop at once, with one line and exit code 130.

Python raises a signal handler's exception wherever the main thread happens to be. Two places
do not let it through: Python code that C++ called back (TensorFlow's error classes, through
pybind11, which reports it as its own `RuntimeError`), and finalizers and weak-reference
callbacks (Python reports it as "Exception ignored", with a traceback, and carries on). The
flag set here lets the command recognise the first and `stop_if_interrupted`, called before
every training batch, stop the second, whose report is left out.
"""

from __future__ import annotations

import signal
import sys
import threading

INTERRUPTED = threading.Event()
MESSAGE = ("fmnist: interrupted; finished chapters and trials are kept, the interrupted one is "
           "marked to rerun: run the same command again to continue.")


def on_interrupt(signum, frame) -> None:
    """The SIGINT handler: silence the interrupted kernels' dying words, then stop as Python
    would."""
    INTERRUPTED.set()
    console = sys.modules.get("fmnist.console")  # loaded only by a command that runs chapters
    if console is not None:
        console.SILENCED.set()
    raise KeyboardInterrupt


def _quiet_unraisable(unraisable) -> None:
    """Report an exception Python had to ignore, unless it is the Ctrl-C being handled."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and INTERRUPTED.is_set():
        return  # `stop_if_interrupted` stops the run; the traceback would say nothing more
    _previous_hook(unraisable)


_previous_hook = sys.unraisablehook


def install() -> None:
    """Handle Ctrl-C with `on_interrupt` from now on (in the main thread; elsewhere Python
    cannot), forgetting any earlier interrupt of this process."""
    global _previous_hook
    INTERRUPTED.clear()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, on_interrupt)
    if sys.unraisablehook is not _quiet_unraisable:
        _previous_hook = sys.unraisablehook
        sys.unraisablehook = _quiet_unraisable


def stop_if_interrupted() -> None:
    """Raise `KeyboardInterrupt` if Ctrl-C was pressed and its first one was swallowed."""
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt
