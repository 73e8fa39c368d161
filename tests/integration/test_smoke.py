import json
import time

import collect_app
import settings_app

from tests.integration.conftest import load_event


def test_put_then_beacon(runtime, tiktok, context):
    put = settings_app.lambda_handler(load_event("put_settings.json"), context)
    print(put)
    assert put["statusCode"] == 200
    ev = load_event("post_events.json")
    body = json.loads(ev["body"])
    now = int(time.time() * 1000)
    for e in body["events"]:
        e["time"] = now
    ev["body"] = json.dumps(body)
    r = collect_app.lambda_handler(ev, context)
    print(r)
    print(json.dumps(tiktok.calls, indent=1))
    assert r["statusCode"] == 202
