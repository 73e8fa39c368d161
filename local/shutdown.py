"""How every local stack process stops: on Ctrl-C or SIGTERM, within seconds, whatever its threads are doing.

One path for `python -m local` (`make dev`) and the bench's stack (bench/stack_server.py):

    sys.exit(serve_until_signalled(stack.start, stack.stop, on_ready=...))

and one for the scripts and tests that start such a process and stop it again: `stop_process`.

Why the signal handler only raises: Python runs it in the main thread between two bytecodes, possibly while
that thread holds a lock (an Event's, the logging module's, stdout's). A handler that takes a lock, as
`threading.Event.set()` does, may wait for its own thread forever. Raising takes none; the main thread
then stops the stack outside the handler. A second signal while it stops means "now": the handler exits
the process at once (`os._exit`, which takes no lock either). And whatever hangs during the stop, a
watchdog thread ends the process at a hard deadline.
"""

import _thread
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

log = logging.getLogger("local")

# What a graceful stop may take: pollers finish their batch, servers close their sockets.
STOP_TIMEOUT_S = 5.0
# Then the process ends, stopped or not: well within the 10 s a person or a test waits.
HARD_DEADLINE_S = 8.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequested(BaseException):  # noqa: N818 (like KeyboardInterrupt: not an error)
    """Raised in the main thread by the first SIGINT or SIGTERM."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _say(message: str) -> None:
    """Write to stderr without the sys.stderr object's lock, which the interrupted code may hold."""
    with contextlib.suppress(OSError):
        os.write(2, message.encode())


def _exit_now(code: int) -> None:
    _say(f"local stack: exiting now ({code})\n")
    os._exit(code)


def _hard_deadline(seconds: float) -> None:
    """A bare thread (no threading.Thread: that waits on an Event to start) that ends the process."""

    def watchdog() -> None:
        time.sleep(seconds)
        _say(f"local stack: not stopped within {seconds:.0f} s, exiting\n")
        os._exit(1)

    _thread.start_new_thread(watchdog, ())


def serve_until_signalled(start: Callable[[], object], stop: Callable[[float], bool],
                          on_ready: Callable[[], None] = lambda: None,
                          stop_timeout_s: float = STOP_TIMEOUT_S, hard_deadline_s: float = HARD_DEADLINE_S) -> NoReturn:
    """Start, run until SIGINT or SIGTERM, stop; end the process with the exit code.

    `stop(timeout)` answers whether every thread it owns ended in time. A signal during `start` stops
    what has started so far. The process ends within `hard_deadline_s` of the first signal in every case.
    """
    # A list item, set by the handler itself: a store takes no lock, and a second signal, even one that
    # lands before the first exception is caught, finds it set.
    requested = [False]

    def handler(signum: int, frame: FrameType | None) -> None:
        if requested[0]:
            _exit_now(128 + signum)
        requested[0] = True
        raise StopRequested(signum)

    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)
    code = 0
    try:
        start()
        on_ready()
        # Ended by the handler's exception; the flag too, should some code on the way have swallowed it.
        while not requested[0]:
            time.sleep(0.2)
    except StopRequested:
        pass
    except Exception:
        log.exception("the local stack failed")
        code = 1
    finally:
        # From here on a signal means "now".
        requested[0] = True
        _hard_deadline(hard_deadline_s)
        stopped = stop(stop_timeout_s)
    lingering = [t.name for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()
                 and not t.name.startswith("Thread-")]  # werkzeug's per-request threads end with their request
    print("Local stack stopped." if stopped else f"Local stack stopped; left running: {', '.join(lingering)}",
          flush=True)
    # Ended here, not by the interpreter's finalization: that waits for request threads still in an AWS call
    # and then puts SIGINT back to its default, so a second Ctrl-C in that window killed the process (exit
    # -2). A thread still in a call that has no timeout would also keep printing into a closing interpreter;
    # nothing any of them holds needs saving.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def stop_process(process: "subprocess.Popen[bytes]", sig: int = signal.SIGINT,
                 timeout_s: float = 10.0) -> int | None:
    """Stop a local stack process started by the caller (by its own handle), as Ctrl-C would.

    Answers its exit code, or None when it did not end within `timeout_s` and had to be killed.
    """
    if process.poll() is not None:
        return process.returncode
    process.send_signal(sig)
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None
