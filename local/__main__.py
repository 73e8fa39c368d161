"""`python -m local` (`make dev`): the local stack on 127.0.0.1:$PORT (3000) until Ctrl-C or SIGTERM."""

import os
import signal
import sys
import threading

from . import devlog
from .stack import LocalStack


def main() -> int:
    devlog.configure()
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    stack = LocalStack(port=int(os.environ.get("PORT", "3000")))
    try:
        stack.start()
        devlog.readable_functions(stack.functions.values())
        print(stack.banner(), flush=True)
        # A timed wait, so the signal handlers get to run promptly on every platform.
        while not stopping.wait(0.5):
            pass
    finally:
        stack.stop()
    print("Local stack stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
