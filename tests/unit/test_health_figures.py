"""The health figures' arithmetic (zellify_tiktok/health_figures.py): buckets from sent events, the answer's parts."""

from decimal import Decimal

from zellify_tiktok.health_figures import (
    HealthBucket,
    HealthDelta,
    SentFact,
    added_up,
    health_figures,
    payment_coverage,
    sent_deltas,
)

HOUR = 1_764_583_200  # 2025-12-01T10:00:00Z


def bucket_of(delta) -> HealthBucket:
    return HealthBucket(delta.hour, delta.event, delta.counts, delta.revenue, delta.payments)


def test_a_batch_becomes_one_delta_per_campaign_hour_and_event():
    facts = [SentFact("c1", "PageView", HOUR + 5, ("email", "ttclid")),
             SentFact("c1", "PageView", HOUR + 3599, ("email",)),
             SentFact("c1", "PageView", HOUR + 3600, ()),
             SentFact("c2", "PageView", HOUR + 5, ("phone",))]
    deltas = {(d.campaign_id, d.hour, d.event): dict(d.counts) for d in sent_deltas(facts)}
    assert deltas == {
        ("c1", HOUR, "PageView"): {"sent": 2, "key_email": 2, "key_ttclid": 1},
        ("c1", HOUR + 3600, "PageView"): {"sent": 1},
        ("c2", HOUR, "PageView"): {"sent": 1, "key_phone": 1},
    }


def test_revenue_and_payment_coverage_follow_the_payments_whatever_their_tiktok_name():
    """A campaign may send its payments as `Purchase`: only payments carry a value in the ledger."""
    facts = [SentFact("c1", "Purchase", HOUR, ("email",), value=Decimal("9.99"), currency="USD"),
             SentFact("c1", "Purchase", HOUR, (), value=Decimal("5.01"), currency="USD"),
             SentFact("c1", "Purchase", HOUR, ("email", "ttclid"), value=Decimal("500"), currency="JPY"),
             SentFact("c1", "ViewContent", HOUR, ())]
    buckets = [bucket_of(d) for d in sent_deltas(facts)]
    figures = health_figures(buckets)
    assert figures["revenue"] == [{"currency": "JPY", "value": 500, "payments": 1},
                                  {"currency": "USD", "value": 15, "payments": 2}]
    coverage = payment_coverage(buckets)
    assert coverage is not None
    assert round(coverage["email"], 4) == round(2 / 3, 4) and round(coverage["ttclid"], 4) == round(1 / 3, 4)


def test_no_payments_no_payment_coverage():
    buckets = [bucket_of(d) for d in sent_deltas([SentFact("c1", "CompletePayment", HOUR, ())])]
    assert payment_coverage(buckets) is None
    assert health_figures(buckets)["revenue"] == []


def test_figures_never_show_below_zero():
    """A message leaving a queue subtracts in the hour it was queued; figures shown are never negative."""
    buckets = [HealthBucket(HOUR, "Lead", {"queued": -1, "sent": 2}, {}, {})]
    (row,) = health_figures(buckets)["events"]
    assert row == {"event": "Lead", "sent": 2, "duplicates": 0, "queued": 0, "dead_lettered": 0}


def test_deltas_of_one_bucket_are_added_up_into_one():
    """The DeliveryFunction's figures for a batch of messages leaving the queue: one write per bucket."""
    leaving = [HealthDelta("c1", HOUR, "PageView", {"queued": -1}), HealthDelta("c1", HOUR, "PageView", {"queued": -2}),
               HealthDelta("c1", HOUR, "PageView", {"dead_lettered": 1}),
               HealthDelta("c1", HOUR + 3600, "PageView", {"queued": -1}),
               HealthDelta("c2", HOUR, "PageView", {"queued": -1}),
               HealthDelta("c1", HOUR, "Purchase", {"sent": 1}, {"USD": Decimal("9.99")}, {"USD": 1}),
               HealthDelta("c1", HOUR, "Purchase", {"sent": 1}, {"USD": Decimal("0.01")}, {"USD": 1})]
    assert {(d.campaign_id, d.hour, d.event): (d.counts, d.revenue, d.payments) for d in added_up(leaving)} == {
        ("c1", HOUR, "PageView"): ({"queued": -3, "dead_lettered": 1}, {}, {}),
        ("c1", HOUR + 3600, "PageView"): ({"queued": -1}, {}, {}),
        ("c2", HOUR, "PageView"): ({"queued": -1}, {}, {}),
        ("c1", HOUR, "Purchase"): ({"sent": 2}, {"USD": Decimal("10.00")}, {"USD": 2}),
    }
