# ruff: noqa: E402
# One cold start, in a fresh process: the clock starts at this file's first statement (before any
# import), then the handler module is imported and serves one event, as a new Lambda container does.
#
#     python bench/cold.py FUNCTION_FOLDER MODULE EVENT_FILE
#
# The last stdout line is `BENCH_RESULT {"ms": …, "rss_mb": …, "status": …, "body": …}`; the handler's own
# log lines come before it. Standard library only, so the harness costs the function and the baseline
# the same.
from time import perf_counter

T0 = perf_counter()

import json
import resource
import sys
from importlib import import_module


class Context:
    function_name = "bench-cold"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-cold"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/bench-cold"
    log_stream_name = "bench-cold"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def main() -> None:
    folder, module_name, event_file = sys.argv[1:4]
    # Lambda puts the function's folder (the task root) first on the path.
    sys.path.insert(0, folder)
    with open(event_file, encoding="utf-8") as file:
        event = json.load(file)
    imported_at = perf_counter()
    module = import_module(module_name)
    imported = perf_counter()
    response = module.lambda_handler(event, Context())
    done = perf_counter()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    body = response.get("body") if isinstance(response, dict) else None
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        answer = None
    sys.stdout.flush()
    print("BENCH_RESULT " + json.dumps({
        "ms": (done - T0) * 1000,
        "import_ms": (imported - imported_at) * 1000,
        "first_request_ms": (done - imported) * 1000,
        "rss_mb": rss_kb / 1024,
        "status": response.get("statusCode") if isinstance(response, dict) else None,
        "body": str(body if body is not None else response)[:300],
        "accepted": len(answer.get("accepted") or []) if isinstance(answer, dict) else None,
        "rejected": len(answer.get("rejected") or []) if isinstance(answer, dict) else None,
        "outcome": answer.get("status") if isinstance(answer, dict) else None,
    }), flush=True)


main()
