"""bench/loadtest.py's health check: what the stand-in received, per campaign and event name, against the
health route; a difference fails the run."""

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

LOADTEST = Path(__file__).resolve().parents[2] / "bench" / "loadtest.py"


@pytest.fixture(scope="module")
def loadtest():
    spec = importlib.util.spec_from_file_location("zellify_loadtest_unit", LOADTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def campaigns(loadtest):
    return [loadtest.Campaign("lt-a", "PIXELA", "token-a"), loadtest.Campaign("lt-b", "PIXELB", "token-b")]


def test_the_stand_in_figures_count_each_event_once_and_what_waits_in_the_queues(loadtest):
    answered_ok = Counter({("PIXELA", "PageView", "e1"): 2, ("PIXELA", "PageView", "e2"): 1,
                           ("PIXELA", "Lead", "e3"): 1, ("PIXELB", "PageView", "e4"): 1,
                           ("OTHER", "PageView", "e5"): 1})
    parked = {"queued": [{"campaign_id": "lt-b", "events": [{"name": "Lead"}, {"name": "Lead"}]}],
              "dead_lettered": [{"campaign_id": "lt-a", "events": [{"name": "PageView"}]},
                                {"campaign_id": "someone-else", "events": [{"name": "PageView"}]},
                                "not json"]}

    figures = loadtest.stand_in_figures(campaigns(loadtest), answered_ok, parked)

    assert figures == {
        "lt-a": {"PageView": {"sent": 2, "duplicates": 0, "queued": 0, "dead_lettered": 1},
                 "Lead": {"sent": 1, "duplicates": 0, "queued": 0, "dead_lettered": 0}},
        "lt-b": {"PageView": {"sent": 1, "duplicates": 0, "queued": 0, "dead_lettered": 0},
                 "Lead": {"sent": 0, "duplicates": 0, "queued": 2, "dead_lettered": 0}},
    }


class FakeStack:
    def __init__(self, health: dict[str, list[dict]]):
        self.answers = health

    def parked(self):
        return {"queued": [], "dead_lettered": []}

    def health(self, campaign_id: str, hours: int) -> dict:
        return {"events": self.answers[campaign_id]}


def row(event: str, sent: int, duplicates: int = 0) -> dict:
    return {"event": event, "sent": sent, "duplicates": duplicates, "queued": 0, "dead_lettered": 0}


def test_equal_figures_pass(loadtest):
    answered_ok = Counter({("PIXELA", "PageView", "e1"): 1, ("PIXELB", "Lead", "e2"): 2})
    stack = FakeStack({"lt-a": [row("PageView", 1)], "lt-b": [row("Lead", 1)]})
    report = loadtest.Report()

    loadtest.compare_health(stack, campaigns(loadtest), report, answered_ok, started_at=loadtest.time.time())

    assert report.health_mismatches == [] and report.ok
    assert report.health["lt-b"]["Lead"]["sent"] == {"health": 1, "stand_in": 1}


def test_a_difference_fails_the_run_once_the_settling_time_is_over(loadtest, monkeypatch):
    monkeypatch.setattr(loadtest, "HEALTH_SETTLE_S", 0)
    answered_ok = Counter({("PIXELA", "PageView", "e1"): 1, ("PIXELA", "PageView", "e2"): 1})
    stack = FakeStack({"lt-a": [row("PageView", 1, duplicates=1)], "lt-b": [row("Lead", 3)]})
    report = loadtest.Report()

    loadtest.compare_health(stack, campaigns(loadtest), report, answered_ok, started_at=loadtest.time.time())

    assert report.health_mismatches == ["lt-a PageView sent: health 1, stand-in 2",
                                        "lt-a PageView duplicates: health 1, stand-in 0",
                                        "lt-b Lead sent: health 3, stand-in 0"]
    assert not report.ok
    lines = loadtest.health_lines(report)
    # lt-a differs in two outcomes of one event name, lt-b in one.
    assert lines[0].endswith("(1 of 1 event names DIFFERENT)") and lines[1].endswith("(1 of 1 event names DIFFERENT)")


def test_the_window_covers_every_hour_the_run_touched(loadtest):
    assert loadtest.health_hours(10 * 3600, now=10 * 3600 + 5) == 1
    assert loadtest.health_hours(8 * 3600 + 3599, now=10 * 3600 + 5) == 3
