"""The local stack loads a template function as Lambda would, and says so when it cannot."""

import sys
import threading
import uuid

from local.functions import Status, invoking, load_function
from local.template import FunctionSpec


def spec(code_uri, handler: str) -> FunctionSpec:
    return FunctionSpec(name="F", code_uri=code_uri, handler=handler, memory_mb=128, timeout_s=3, environment={})


def test_a_handler_is_loaded_from_its_code_uri(tmp_path):
    module = f"app_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text("def handler(event, context):\n    return {'ok': event}\n")
    function = load_function(spec(tmp_path, f"{module}.handler"))
    assert function.status is Status.LOADED
    assert function.invoke(1) == {"ok": 1}


def test_the_thread_of_an_invocation_knows_which_function_it_runs_and_forgets_it_after(tmp_path):
    module = f"app_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text("from local.functions import invoking\n"
                                           "def handler(event, context):\n    return invoking()\n")
    function = load_function(spec(tmp_path, f"{module}.handler"))
    assert function.invoke(None) == "F"
    assert invoking() is None


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


def test_a_queue_fed_function_runs_in_its_own_environment_and_never_holds_up_an_http_one(tmp_path):
    """A DeliveryFunction invocation waiting on a slow TikTok must not delay a beacon's answer."""
    module = f"app_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text(
        "import threading\n"
        "release = threading.Event()\n"
        "entered = threading.Event()\n"
        "def slow(event, context):\n"
        "    entered.set()\n"
        "    release.wait(10)\n"
        "    return 'delivered'\n"
        "def fast(event, context):\n"
        "    return 'answered'\n")
    delivery = load_function(spec(tmp_path, f"{module}.slow"), own_environment=True)
    collect = load_function(spec(tmp_path, f"{module}.fast"))
    handlers = sys.modules[module]
    worker = threading.Thread(target=delivery.invoke, args=({},))
    worker.start()
    try:
        assert handlers.entered.wait(5)
        answered: list = []
        beacon = threading.Thread(target=lambda: answered.append(collect.invoke({})))
        beacon.start()
        beacon.join(5)
        # Answered while the delivery function still waits.
        assert answered == ["answered"] and not handlers.release.is_set()
    finally:
        handlers.release.set()
        worker.join(5)
