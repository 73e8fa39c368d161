"""The local stack loads a template function as Lambda would, and says so when it cannot."""

import sys
import threading
import uuid

from local.functions import Status, load_function
from local.template import FunctionSpec


def spec(code_uri, handler: str) -> FunctionSpec:
    return FunctionSpec(name="F", code_uri=code_uri, handler=handler, memory_mb=128, timeout_s=3, environment={})


def test_a_handler_is_loaded_from_its_code_uri(tmp_path):
    module = f"app_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text("def handler(event, context):\n    return {'ok': event}\n")
    function = load_function(spec(tmp_path, f"{module}.handler"))
    assert function.status is Status.LOADED
    assert function.invoke(1) == {"ok": 1}


def test_a_typo_in_the_handler_or_code_uri_fails_as_an_import_error(tmp_path):
    module = f"app_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text("def handler(event, context):\n    return None\n")
    for broken in (spec(tmp_path, f"{module}.handlr"), spec(tmp_path, f"x{module}.handler"),
                   spec(tmp_path / "nope", f"{module}_2.handler")):
        function = load_function(broken)
        assert function.status is Status.FAILED, broken
        assert function.error


def test_invocations_from_many_threads_take_turns_as_in_one_lambda_environment(tmp_path):
    """Powertools keeps the current event process-wide (a class attribute of its resolvers): two invocations
    overlapping in the local stack's threads could answer one request from another's event."""
    module = f"app_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text(
        "import threading, time\n"
        "inside = []\n"
        "overlaps = []\n"
        "lock = threading.Lock()\n"
        "def handler(event, context):\n"
        "    with lock:\n"
        "        inside.append(event)\n"
        "        if len(inside) > 1:\n"
        "            overlaps.append(list(inside))\n"
        "    time.sleep(0.002)\n"
        "    with lock:\n"
        "        inside.remove(event)\n"
        "    return event\n")
    function = load_function(spec(tmp_path, f"{module}.handler"))
    other = load_function(spec(tmp_path, f"{module}.handler"))
    results: list = []
    threads = [threading.Thread(target=lambda n=n: results.extend(
        (function if n % 2 else other).invoke((n, i)) == (n, i) for i in range(10))) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 60
    assert sys.modules[module].overlaps == []
