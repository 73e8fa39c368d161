"""`python -m local` (`make dev`): the local stack on 127.0.0.1:$PORT (3000) until Ctrl-C or SIGTERM."""

import os
import signal
import sys

# Nothing needs stopping while the modules import: a signal then ends the process at once, without a
# KeyboardInterrupt traceback. serve_until_signalled installs the real handlers (local/shutdown.py).
for _signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(_signum, lambda signum, frame: os._exit(128 + signum))

from . import devlog  # noqa: E402
from .shutdown import serve_until_signalled  # noqa: E402
from .stack import LocalStack  # noqa: E402


def main() -> int:
    devlog.configure()
    stack = LocalStack(port=int(os.environ.get("PORT", "3000")))

    def ready() -> None:
        devlog.readable_functions(stack.functions.values())
        print(stack.banner(), flush=True)

    return serve_until_signalled(stack.start, stack.stop, on_ready=ready)


if __name__ == "__main__":
    sys.exit(main())
