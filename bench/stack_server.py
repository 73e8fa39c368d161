"""The local stack (local/stack.py) for the bench: moto's server, the template's tables and queues, the
handlers behind HTTP and the TikTok stand-in, on a free port, with the RetryQueue poller stopped (the
drain measurement runs the RetryFunction itself, on batches it controls).

    python bench/stack_server.py INFO_FILE

writes {"base_url", "aws_endpoint_url", "environment", "stripe_signing_secret", ...} to INFO_FILE once
everything is up, and runs until SIGTERM/SIGINT.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local.shutdown import serve_until_signalled  # noqa: E402
from local.stack import LocalStack  # noqa: E402


def main(info_file: str) -> int:
    stack = LocalStack(port=0, root=ROOT)

    def ready() -> None:
        for poller in stack.pollers:
            poller.stop()
        stack.pollers = []
        info = {
            "base_url": stack.base_url,
            "aws_endpoint_url": stack.aws_endpoint_url,
            "environment": stack.handler_environment,
            "stripe_signing_secret": stack.stripe_signing_secret,
            "seeded": stack.seeded,
            "functions": {name: str(f.status) for name, f in stack.functions.items()},
            "function_errors": {name: f.error for name, f in stack.functions.items() if f.error},
        }
        tmp = Path(info_file).with_suffix(".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(info_file)

    # The same start, signal handling and bounded stop as `make dev` (local/shutdown.py).
    return serve_until_signalled(stack.start, stack.stop, on_ready=ready)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
