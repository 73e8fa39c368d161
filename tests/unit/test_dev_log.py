"""`make dev`'s log reads as one line per thing that happened (local/devlog.py), not Lambda's JSON."""

import io
import json
import logging
import sys

from local import devlog

POWERTOOLS_LINE = {
    "level": "INFO", "location": "handle:89", "message": "beacon delivered",
    "timestamp": "2026-12-06 20:11:39,123+0000", "service": "zellify-tiktok", "sampling_rate": 1.0,
    "function_name": "zellify-tiktok-local-CollectFunction", "function_memory_size": 256,
    "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:zellify-tiktok-local-CollectFunction",
    "function_request_id": "c6af9ac6", "cold_start": False, "correlation_id": "req-1",
    "campaign_id": "demo", "event_ids": ["pv-1"], "sent": 1, "queued": 0,
}


def test_a_functions_json_line_reads_as_one_line_with_its_own_keys_only():
    line = devlog.readable_line(json.dumps(POWERTOOLS_LINE))
    assert line == '20:11:39  Collect: beacon delivered · campaign_id=demo event_ids=["pv-1"] sent=1 queued=0'


def test_a_warning_names_its_level_and_control_characters_stay_on_one_line():
    line = devlog.readable_line(json.dumps({**POWERTOOLS_LINE, "level": "ERROR", "message": "events dead-lettered",
                                            "campaign_id": "evil\ncampaign"}))
    assert "\n" not in line and "Collect: ERROR events dead-lettered" in line
    assert 'campaign_id="evil\\ncampaign"' in line


def test_a_line_is_headed_by_the_function_running_on_its_thread_when_the_stack_knows_it():
    """The Lambda context's keys sit on a formatter every function's Logger shares in the one local process:
    while the DeliveryFunction runs beside the collector, its line may carry the collector's name."""
    line = devlog.readable_line(json.dumps({**POWERTOOLS_LINE, "message": "events delivered"}), "DeliveryFunction")
    assert line.startswith("20:11:39  Delivery: events delivered")


def test_a_line_that_is_not_json_is_kept_as_it_is():
    assert devlog.readable_line("plain text") == "plain text"


def test_metric_lines_leave_stdout_unless_log_level_is_debug(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    devlog.configure()
    print(json.dumps({"_aws": {"Timestamp": 1}, "EventsSent": [1.0]}))
    print("20:11:39  POST /v1/events 202 14 ms")
    sys.stdout.write('{"level":"INFO","message":"in')  # a line written in two parts stays one line
    sys.stdout.write('"}\n')
    assert out.getvalue() == '20:11:39  POST /v1/events 202 14 ms\n{"level":"INFO","message":"in"}\n'

    monkeypatch.setattr(sys, "stdout", out := io.StringIO())
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    devlog.configure()
    print('{"_aws": {}}')
    assert out.getvalue() == '{"_aws": {}}\n'  # everything, as Lambda writes it
    logging.basicConfig(force=True)  # leave pytest's logging as it was


def test_the_stacks_own_lines_are_time_then_words():
    record = logging.LogRecord("local.http", logging.INFO, __file__, 1, "%s %s %s %.0f ms",
                               ("POST", "/v1/events", 202, 14.2), None)
    record.created = 1796587899.0
    assert devlog.ReadableFormatter().format(record).endswith("  POST /v1/events 202 14 ms")
    record.levelno, record.levelname = logging.WARNING, "WARNING"
    assert "WARNING local.http: POST" in devlog.ReadableFormatter().format(record)
