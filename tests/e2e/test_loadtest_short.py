"""The load test of `make loadtest` (bench/loadtest.py), short, against the session's local stack:
300 beacons at concurrency 8 with a small fault burst half way; nothing accepted may be lost or
dead-lettered, nothing repeated except after a timeout, and each campaign's health figures must equal what
the TikTok stand-in received. No timing is asserted."""

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

LOADTEST = Path(__file__).resolve().parents[2] / "bench" / "loadtest.py"
BURST = [{"http_status": 503, "times": 5}, {"code": 40100, "times": 5}, {"code": 50000, "times": 3},
         {"code": 50002, "times": 3}, {"code": 60001, "times": 3}, {"delay_ms": 4000, "times": 2}]


def load_loadtest():
    spec = importlib.util.spec_from_file_location("zellify_loadtest", LOADTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_short_load_with_a_fault_burst_loses_nothing(tiktok):
    stack = tiktok
    loadtest = load_loadtest()
    options = loadtest.parse_args(["--beacons", "300", "--concurrency", "8", "--base-url", stack.base_url,
                                   "--admin-token", stack.admin_token, "--drain-timeout", "120",
                                   "--max-seconds", "300", "--seed", "5"])
    options.burst = BURST
    options.quiet = True
    report = loadtest.run(options)
    loadtest.print_report(report, options)
    assert report.beacons_sent == 300 and not report.capped
    assert report.statuses == {202: 300}
    assert report.burst_at_beacon is not None and report.drained
    assert report.events_accepted > 300 and report.events_rejected == 0
    assert report.lost == [], f"{len(report.lost)} accepted events never answered code 0: {report.lost[:5]}"
    assert report.repeated_unexplained == [], report.repeated_unexplained[:5]
    # Every fault of the burst answered one of our calls: `tiktok` left no earlier retry to take one.
    # (The delayed answers are code 0, late: the collector queued those events, and they count as repeats.)
    assert {answer: count for answer, count in report.tiktok_answers.items() if answer != "0"} == {
        "HTTP 503": 5, "40100": 5, "50000": 3, "50002": 3, "60001": 3}
    assert stack.faults() == []
    # Every answer of the burst was transient: queued and retried, none dead-lettered.
    assert report.dead_lettered_events == 0
    # The health route of each campaign says what the stand-in received, per event name and outcome.
    assert report.health_mismatches == [], report.health_mismatches[:5]
    assert len(report.health) == 3
    sent = sum(row["sent"]["health"] for events in report.health.values() for row in events.values())
    assert sent == report.events_delivered
    assert all(row[outcome]["health"] == 0 for events in report.health.values() for row in events.values()
               for outcome in ("duplicates", "queued", "dead_lettered"))
    assert report.ok
