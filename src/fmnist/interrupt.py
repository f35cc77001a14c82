"""Ctrl-C, SIGTERM and SIGHUP in the `fmnist` command: stop at once, with one line and the
conventional exit code (130, 143, 129), and take the command's notebook kernels and search
workers down with it.

SIGTERM is what `timeout`, CI runners, `systemd` and `docker stop` send; SIGHUP what a closing
terminal sends. Both take Ctrl-C's path. Jupyter starts each kernel in a session of its own, so
no signal sent to the command reaches its kernel: `stop_children` ends every child process the
command registered (`track`), so none is left running, and busy, after it. A command killed
outright (SIGKILL, the out-of-memory killer) can stop nothing: its search processes then end by
themselves (`end_with_parent`), and its kernels through ipykernel's own watch on their parent.

Python raises a signal handler's exception wherever the main thread happens to be. Two places
do not let it through: Python code that C++ called back (TensorFlow's error classes, through
pybind11, which reports it as its own `RuntimeError`), and finalizers and weak-reference
callbacks (Python reports it as "Exception ignored", with a traceback, and carries on). The
flag set here lets the command recognise the first; `stop_if_interrupted`, called before every
training batch of the command's own process and before each chapter, stops the second, whose
report is left out.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

MESSAGE = ("fmnist: interrupted; finished chapters and trials are kept, the interrupted one is "
           "marked to rerun: run the same command again to continue.")

STOPPED = ("fmnist: stopped by {name}; finished chapters and trials are kept, the interrupted "
           "one is marked to rerun: run the same command again to continue.")
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
CHILD_GRACE = 5.0  # seconds a child has to stop on SIGTERM before it is killed

# A plain flag, not a threading.Event: the handler runs between two bytecodes of the main
# thread, possibly inside the Event's own lock, which is not re-entrant.
_pressed = False
_signal = signal.SIGINT  # the last signal that stopped the command
_children: list[subprocess.Popen] = []
_children_lock = threading.Lock()


def pressed() -> bool:
    """True once Ctrl-C has been pressed (or SIGTERM or SIGHUP received) while
    `handling_ctrl_c` was active."""
    return _pressed


def exit_code() -> int:
    """The shell's code for a command stopped by the signal received: 128 + its number."""
    return 128 + int(_signal)


def message() -> str:
    """The one line said when the command stops on a signal."""
    if _signal == signal.SIGINT:
        return MESSAGE
    return STOPPED.format(name=signal.Signals(_signal).name)


def on_interrupt(signum, frame) -> None:
    """The handler of SIGINT, SIGTERM and SIGHUP: silence the interrupted kernels' dying words,
    then stop as Python does on Ctrl-C."""
    global _pressed, _signal
    _pressed = True
    _signal = signum
    _silence_console(True)
    raise KeyboardInterrupt


def ignore_signals() -> None:
    """Ignore further stop signals while the command stops (`handling_ctrl_c` restores them)."""
    if threading.current_thread() is threading.main_thread():
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_IGN)


def track(proc: subprocess.Popen) -> subprocess.Popen:
    """Register a child process (a notebook kernel, a search's chief or worker) to be stopped
    with the command."""
    with _children_lock:  # chapters side by side start their kernels from several threads
        _children[:] = [p for p in _children if p.poll() is None]
        _children.append(proc)
    return proc


# Set in a child's environment to the pid of the command that started it (`child_environment`).
PARENT_VARIABLE = "FMNIST_PARENT_PID"
PR_SET_PDEATHSIG = 1  # Linux's prctl option: a signal for this process when its parent ends


def child_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's) for a child that must end with this command, even when
    the command is killed outright (`end_with_parent`, which the child's `fmnist` calls)."""
    return {**(os.environ if env is None else env), PARENT_VARIABLE: str(os.getpid())}


def end_with_parent() -> None:
    """In a child started with `child_environment` (a search run ahead, a chief or worker):
    have SIGTERM sent to this process when the command that started it ends, by SIGKILL too,
    so that no search keeps training for nobody; send it now if the command has ended already.
    Linux only (prctl); elsewhere nothing changes."""
    parent = os.environ.pop(PARENT_VARIABLE, "")  # not passed on to this process's children
    if not parent.isdigit():
        return
    with contextlib.suppress(OSError, AttributeError, TypeError):  # no prctl: not Linux
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
    if os.getppid() != int(parent):  # ended before the request above was made
        os.kill(os.getpid(), signal.SIGTERM)


def stop_children_quietly() -> None:
    """Stop every registered child, their dying words (and their clients' reports of their
    death) silenced: the command itself ends them, and says why once."""
    _silence_console(True)
    stop_children()


def end_quiet() -> None:
    """Let the children's lines through again once those stopped quietly have ended (their
    clients waited for), unless a signal is stopping the command, which says why once."""
    if not _pressed:
        _silence_console(False)


def stop_children(grace: float = CHILD_GRACE) -> None:
    """Stop every registered child still running: SIGTERM to it (to its whole process group
    when it leads one, as a kernel does), then SIGKILL after `grace` seconds."""
    with _children_lock:
        live = [p for p in _children if p.poll() is None]
    for proc in live:
        _send(proc, signal.SIGTERM)
    for proc in live:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _send(proc, signal.SIGKILL)
            proc.wait()
    _children.clear()


def _send(proc: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(proc.pid) == proc.pid:  # a kernel: its own session, children included
            os.killpg(proc.pid, signum)
        else:
            os.kill(proc.pid, signum)


def stop_if_interrupted() -> None:
    """Raise `KeyboardInterrupt` if Ctrl-C was pressed (its first exception may have been
    swallowed, or wrapped in another error)."""
    if _pressed:
        raise KeyboardInterrupt


@contextmanager
def handling_ctrl_c() -> Iterator[None]:
    """Within this block, Ctrl-C, SIGTERM and SIGHUP are handled by `on_interrupt` (only the
    main thread receives signals: elsewhere nothing is installed and `pressed` stays False);
    the handlers and Python's report of ignored exceptions are restored after it."""
    global _pressed, _signal
    _pressed, _signal = False, signal.SIGINT
    _silence_console(False)
    in_main = threading.current_thread() is threading.main_thread()
    handlers = {s: signal.signal(s, on_interrupt) for s in SIGNALS} if in_main else {}
    hook = sys.unraisablehook
    sys.unraisablehook = functools.partial(_quiet_unraisable, hook)
    try:
        yield
    finally:
        sys.unraisablehook = hook
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def _quiet_unraisable(report: Callable, unraisable) -> None:
    """Report an exception Python had to ignore, unless it is the Ctrl-C being handled."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and _pressed:
        return  # `stop_if_interrupted` stops the run; the traceback would say nothing more
    report(unraisable)


def _silence_console(on: bool) -> None:
    console = sys.modules.get("fmnist.console")  # loaded only by a command that runs chapters
    if console is not None:
        (console.SILENCED.set if on else console.SILENCED.clear)()
