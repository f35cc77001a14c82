"""Ctrl-C in the `fmnist` command: stop at once, with one line and exit code 130.

Python raises a signal handler's exception wherever the main thread happens to be. Two places
do not let it through: Python code that C++ called back (TensorFlow's error classes, through
pybind11, which reports it as its own `RuntimeError`), and finalizers and weak-reference
callbacks (Python reports it as "Exception ignored", with a traceback, and carries on). The
flag set here lets the command recognise the first; `stop_if_interrupted`, called before every
training batch of the command's own process and before each chapter, stops the second, whose
report is left out.
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MESSAGE = ("fmnist: interrupted; finished chapters and trials are kept, the interrupted one is "
           "marked to rerun: run the same command again to continue.")

# A plain flag, not a threading.Event: the handler runs between two bytecodes of the main
# thread, possibly inside the Event's own lock, which is not re-entrant.
_pressed = False


def pressed() -> bool:
    """True once Ctrl-C has been pressed while `handling_ctrl_c` was active."""
    return _pressed


def on_interrupt(signum, frame) -> None:
    """The SIGINT handler: silence the interrupted kernels' dying words, then stop as Python
    would."""
    global _pressed
    _pressed = True
    _silence_console(True)
    raise KeyboardInterrupt


def stop_if_interrupted() -> None:
    """Raise `KeyboardInterrupt` if Ctrl-C was pressed (its first exception may have been
    swallowed, or wrapped in another error)."""
    if _pressed:
        raise KeyboardInterrupt


@contextmanager
def handling_ctrl_c() -> Iterator[None]:
    """Within this block, Ctrl-C is handled by `on_interrupt` (only the main thread receives
    signals: elsewhere nothing is installed and `pressed` stays False); the handler and
    Python's report of ignored exceptions are restored after it."""
    global _pressed
    _pressed = False
    _silence_console(False)
    in_main = threading.current_thread() is threading.main_thread()
    handler = signal.signal(signal.SIGINT, on_interrupt) if in_main else None
    hook = sys.unraisablehook
    sys.unraisablehook = functools.partial(_quiet_unraisable, hook)
    try:
        yield
    finally:
        sys.unraisablehook = hook
        if in_main:
            signal.signal(signal.SIGINT, handler)


def _quiet_unraisable(report: Callable, unraisable) -> None:
    """Report an exception Python had to ignore, unless it is the Ctrl-C being handled."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and _pressed:
        return  # `stop_if_interrupted` stops the run; the traceback would say nothing more
    report(unraisable)


def _silence_console(on: bool) -> None:
    console = sys.modules.get("fmnist.console")  # loaded only by a command that runs chapters
    if console is not None:
        (console.SILENCED.set if on else console.SILENCED.clear)()
