"""The local stack loads a template function as Lambda would, and says so when it cannot."""

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
