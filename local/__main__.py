"""`python -m local` (`make dev`): the local stack on 127.0.0.1:$PORT (3000) until Ctrl-C or SIGTERM."""

import logging
import os
import signal
import sys
import threading

from .stack import LocalStack


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # botocore announces at INFO where it found credentials and endpoints, for every client.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    stack = LocalStack(port=int(os.environ.get("PORT", "3000")))
    try:
        stack.start()
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
