"""Stopping cleanly: SIGINT and SIGTERM, and a wall-clock limit on a step.

A signal (or an expired time limit) is raised as an exception in the running code, so the
stack unwinds and every ``finally`` runs: staging folders are removed, locks released.
Code that must not be cut in half (moving a set of files into place, removing a staging
folder) runs inside ``deferred()``: a signal that arrives there is held until it ends.

The signal that arrived is also recorded (``received()``), so the command line reports an
interruption even when a library caught the exception and raised another one of its own
(torch's exporter does: an interrupted import inside it ends in an ``AttributeError``).
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType

__all__ = [
    "Interrupted",
    "TimeLimitExpired",
    "deferred",
    "handle_signals",
    "received",
    "settle",
    "time_limit",
]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (a BaseException, so ``except Exception`` lets it through)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


class TimeLimitExpired(BaseException):
    """Raised asynchronously in a thread whose ``time_limit`` has run out."""


@dataclass
class _State:
    first: int | None = None  # the first signal received, for the exit status
    depth: int = 0  # how many deferred() sections are open
    pending: int | None = None  # a signal held by a deferred() section


_state = _State()


def received() -> int | None:
    """The first SIGINT/SIGTERM received while ``handle_signals`` was active, if any."""
    return _state.first


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state.first is None:
        _state.first = signum
    if _state.depth:
        _state.pending = _state.pending or signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into ``Interrupted`` (main thread only; an ignored signal,
    as under ``nohup`` or ``&`` in a script, stays ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.getsignal(s) for s in SIGNALS}
    _state.first = _state.pending = None
    for s, h in old.items():
        if h is not signal.SIG_IGN:
            signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, h in old.items():
            if h is not signal.SIG_IGN:
                signal.signal(s, h)
        _state.depth, _state.pending, _state.first = 0, None, None


def settle() -> None:
    """From now until ``handle_signals`` ends, signals are only recorded, never raised (the
    command is reporting how it ended)."""
    _state.depth += 1


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM (and ``time_limit``) until the block ends; then raise a held signal
    (if the block itself ended normally)."""
    _state.depth += 1  # first: an exception sent to this thread lands before it, not after
    try:
        yield
    finally:
        _state.depth -= 1
    if _state.depth == 0 and _state.pending is not None:
        signum, _state.pending = _state.pending, None
        raise Interrupted(signum)


# Wall-clock limits ------------------------------------------------------------------------

_set_async_exc = ctypes.pythonapi["PyThreadState_SetAsyncExc"]  # a fresh function pointer each
_set_async_exc.argtypes = [ctypes.c_ulong, ctypes.py_object]
_set_async_exc.restype = ctypes.c_int
_clear_async_exc_fn = ctypes.pythonapi["PyThreadState_SetAsyncExc"]
_clear_async_exc_fn.argtypes = [ctypes.c_ulong, ctypes.c_void_p]
_clear_async_exc_fn.restype = ctypes.c_int

RETRY_SECONDS = 1.0  # if the code caught TimeLimitExpired and went on, raise it again this often


@contextlib.contextmanager
def time_limit(seconds: float | None, expired: Callable[[], BaseException]) -> Iterator[None]:
    """Stop the block after ``seconds`` of wall-clock time and raise ``expired()`` instead
    of whatever the block raised (None or 0: no limit).

    A timer thread raises ``TimeLimitExpired`` in this thread (at its next Python bytecode,
    like a signal), and again every second until the block has ended, so a library that
    catches it cannot run on. Works in any thread. Code in one long C call is stopped when
    that call returns.
    """
    if not seconds or seconds <= 0:
        yield
        return
    thread = threading.get_ident()
    lock = threading.Lock()
    state = {"active": True, "fired": False}
    timers: list[threading.Timer] = []

    def fire() -> None:
        with lock:
            if not state["active"]:
                return
            if _state.depth:  # inside deferred(): try again when it has ended
                _start(0.05)
                return
            state["fired"] = True
            _set_async_exc(thread, TimeLimitExpired)
            _start(RETRY_SECONDS)

    def _start(delay: float) -> None:
        t = threading.Timer(delay, fire)
        t.daemon = True
        timers.append(t)
        t.start()

    _start(seconds)
    failure: BaseException | None = None
    try:
        yield
    except BaseException as e:
        failure = e
    finally:
        while True:  # stop the timer; one more TimeLimitExpired may land here: go round again
            try:
                with lock:
                    state["active"] = False
                    if state["fired"]:
                        _clear_async_exc(thread)
                break
            except TimeLimitExpired:
                continue
        for t in timers:
            t.cancel()
    if isinstance(failure, Interrupted | KeyboardInterrupt) or not state["fired"]:
        if failure is not None:
            raise failure
        return
    raise expired() from None  # even if the block went on: what it made after that is suspect


def _clear_async_exc(thread: int) -> None:
    """Drop a TimeLimitExpired sent but not yet delivered."""
    _clear_async_exc_fn(thread, None)
