"""Property-based: any beacon either reaches TikTok in bodies TikTok would take, or gets a 4xx naming the problem.

"TikTok would take" is the local TikTok stand-in's judgement (`local.tiktok_standin.track_problem`, also
behind tests/tiktok_fake.py), written from TikTok's side, never the layer's own checks.
"""

import json
import time
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zellify_tiktok.beacon import Beacon, parse_beacon
from zellify_tiktok.budget import Budget
from zellify_tiktok.campaign import CampaignSettings
from zellify_tiktok.errors import ApiError
from zellify_tiktok.events import EVENT_TABLE
from zellify_tiktok.server_event import UserData
from zellify_tiktok.tiktok import TikTokClient

from local.tiktok_standin import track_problem
from tests.tiktok_cases import TOKEN
from tests.tiktok_fake import FakeTikTok

NOW_S = time.time()
NOW_MS = int(NOW_S * 1000)
CAMPAIGN = CampaignSettings(campaign_id="c", pixel_id="PIXEL12345", has_token=True)
SESSION = UserData(external_id="a" * 64, ip="203.0.113.9", user_agent="UA")


def wire_bodies(beacon: Beacon) -> list[dict]:
    """The /event/track/ bodies the layer posts for a validated beacon's events, as they went on the wire.

    The only place this test touches the layer (its payload builders and TikTok client): re-point it
    when they change.
    """
    events = [event.server_event(CAMPAIGN.naming, replace(SESSION, ttp=beacon.ttp, ttclid=beacon.ttclid,
                                                          email=event.email_hash, phone=event.phone_hash))
              for event in beacon.events]
    tiktok = FakeTikTok()
    TikTokClient("https://tiktok.test/open_api/v1.3", connect_timeout=1, total_timeout=3, http=tiktok).send(
        pixel_id=CAMPAIGN.pixel_id, access_token=TOKEN, events=events, test_event_code=None, budget=Budget(60))
    return [call["body"] for call in tiktok.calls]


def assert_tiktok_takes_every_event(beacon: Beacon) -> None:
    bodies = wire_bodies(beacon)
    for body in bodies:
        assert track_problem(body, NOW_S) is None, (track_problem(body, NOW_S), body)
    sent = [event["event_id"] for body in bodies for event in body["data"]]
    assert sorted(sent) == sorted(event.event_id for event in beacon.events), "events lost before TikTok"


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**13), st.text(max_size=20),
                    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["USD", "usd", "XYZ", "JPY"]))
anything = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                        max_leaves=8)
event_names = st.one_of(st.sampled_from(sorted(EVENT_TABLE)), st.text(max_size=10))
contents = st.lists(st.fixed_dictionaries({}, optional={
    "content_id": st.one_of(st.text(max_size=10), st.integers(0, 10**6), anything),
    "content_name": st.one_of(st.text(max_size=10), anything),
    "quantity": st.one_of(st.integers(-2, 5), anything),
    "price": st.one_of(st.floats(0, 1000, allow_nan=False), st.integers(-5, 1000), anything)}), max_size=3)
events = st.fixed_dictionaries({"event": event_names}, optional={
    "event_id": st.one_of(st.from_regex(r"[A-Za-z0-9._:-]{1,20}", fullmatch=True), anything),
    "time": st.one_of(st.integers(NOW_MS - 9 * 86400_000, NOW_MS + 3600_000), anything),
    "page": st.one_of(st.fixed_dictionaries({}, optional={"url": st.one_of(st.text(max_size=30), anything),
                                                          "referrer": st.one_of(st.text(max_size=30), anything)}),
                      anything),
    "step": st.one_of(st.fixed_dictionaries({}, optional={"index": st.one_of(st.integers(-1, 5), anything),
                                                          "id": st.one_of(st.text(max_size=10), anything)}), anything),
    "email": st.one_of(st.emails(), st.text(max_size=20), anything),
    "value": st.one_of(st.floats(-1, 10**10, allow_nan=False), st.integers(-1, 10**10), anything),
    "currency": st.one_of(st.sampled_from(["USD", "eur", "JPY", "XYZ", "US"]), anything),
    "contents": st.one_of(contents, anything),
})
envelopes = st.fixed_dictionaries({}, optional={
    "campaign_id": st.one_of(st.just("c"), anything),
    "session_id": st.one_of(st.from_regex(r"[A-Za-z0-9-]{1,30}", fullmatch=True), anything),
    "ttp": st.one_of(st.text(max_size=30), anything),
    "ttclid": st.one_of(st.text(max_size=30), anything),
    "consent": st.one_of(st.booleans(), anything),
    "events": st.one_of(st.lists(st.one_of(events, anything), min_size=0, max_size=6), anything),
})

# Well-formed beacons whose text fields are anything: most of their events reach the wire body, so the
# stand-in's rules judge every example (the first event always does).
BEACON_KINDS = sorted(name for name, spec in EVENT_TABLE.items() if spec.beacon)
texts = st.text(max_size=40)
well_formed_events = st.fixed_dictionaries({
    "event": st.sampled_from(BEACON_KINDS),
    "event_id": st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True),
    "time": st.integers(NOW_MS - 86400_000, NOW_MS),
}, optional={
    "page": st.fixed_dictionaries({"url": st.one_of(st.just("https://funnel.example.com/"), texts)},
                                  optional={"referrer": texts}),
    "step": st.fixed_dictionaries({"index": st.integers(0, 20), "id": texts}),
    "email": st.one_of(st.emails(), texts),
    "value": st.one_of(st.integers(0, 10**6), st.floats(0, 10**6, allow_nan=False), st.decimals(0, 10**6, places=2)
                       .map(str)),
    "currency": st.sampled_from(["USD", "EUR", "JPY", "KWD", "usd", "XBT"]),
    "contents": st.lists(st.fixed_dictionaries({"content_id": texts}, optional={
        "content_name": texts, "quantity": st.integers(0, 100), "price": st.floats(0, 10**5, allow_nan=False)}),
        max_size=4),
})
first_event = st.fixed_dictionaries({
    "event": st.just("page_view"), "event_id": st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True),
    "time": st.integers(NOW_MS - 86400_000, NOW_MS), "page": st.fixed_dictionaries({"url": st.just(
        "https://funnel.example.com/step-1")}, optional={"referrer": texts}),
})
well_formed_beacons = st.fixed_dictionaries({
    "campaign_id": st.just("c"),
    "session_id": st.from_regex(r"[A-Za-z0-9-]{1,64}", fullmatch=True),
    "events": st.tuples(first_event, st.lists(well_formed_events, max_size=8)).map(lambda t: [t[0], *t[1]]),
}, optional={"ttp": texts, "ttclid": texts, "consent": st.booleans()})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelope=envelopes)
def test_any_beacon_is_accepted_by_tiktok_or_refused_with_a_named_4xx(envelope):
    try:
        beacon = parse_beacon(json.dumps(envelope).encode(), NOW_MS)
    except ApiError as error:
        assert 400 <= error.status < 500
        assert error.code and error.message
        return
    for rejection in beacon.rejected:
        assert rejection.code in {"unknown_event", "server_only_event", "invalid_event_id", "invalid_email",
                                  "invalid_phone", "invalid_value", "invalid_currency", "too_old", "invalid_field"}
        assert rejection.message
    if beacon.events:
        assert_tiktok_takes_every_event(beacon)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelope=well_formed_beacons)
def test_every_event_of_a_well_formed_beacon_reaches_tiktok_in_a_body_it_takes(envelope):
    try:
        beacon = parse_beacon(json.dumps(envelope).encode(), NOW_MS)
    except ApiError as error:
        # Only the envelope's own text fields may refuse the beacon as a whole.
        assert error.status == 400 and error.code == "invalid_field", error.message
        return
    assert len(beacon.events) + len(beacon.rejected) == len(envelope["events"])
    assert beacon.events, beacon.rejected
    assert_tiktok_takes_every_event(beacon)
