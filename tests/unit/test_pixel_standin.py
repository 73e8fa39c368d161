"""The Pixel stand-in records `ttq` calls as TikTok would get them (docs/design.md §5, §8)."""

import hashlib

from zellify_tiktok.hashing import hash_email, hash_external_id, hash_phone

from local.pixel_standin import parse_call


def identify(**keys) -> dict:
    return parse_call({"pixel_id": "CPIX", "method": "identify", "args": [keys]})


def test_identify_email_and_phone_are_recorded_as_their_sha256_hex():
    recorded = identify(email="ann.smith@example.com", phone_number="+15551234567", external_id="s-1")
    assert recorded["args"] == [{"email": hashlib.sha256(b"ann.smith@example.com").hexdigest(),
                                 "phone_number": hashlib.sha256(b"+15551234567").hexdigest(),
                                 "external_id": "s-1"}]


def test_what_tracker_js_gives_the_pixel_hashes_to_what_the_events_api_gets():
    # tracker.js gives ttq.identify the normalised strings (docs/design.md §5); the server hashes the raw input.
    raw_email, raw_phone, session = "  Ann.Smith@Example.COM ", "+1 (555) 123-4567", " Sess-1 "
    recorded = identify(email=raw_email.strip().lower(), phone_number="+15551234567",
                        external_id=session.strip().lower())
    [args] = recorded["args"]
    assert args["email"] == hash_email(raw_email)
    assert args["phone_number"] == hash_phone(raw_phone)
    assert hashlib.sha256(args["external_id"].encode()).hexdigest() == hash_external_id(session)


def test_a_hash_given_to_identify_is_kept_and_lists_are_hashed_item_by_item():
    hashed = hashlib.sha256(b"x@example.com").hexdigest()
    recorded = identify(email=[hashed, "y@example.com"])
    assert recorded["args"] == [{"email": [hashed, hashlib.sha256(b"y@example.com").hexdigest()]}]


def test_other_calls_keep_their_arguments_but_no_raw_contact_nor_personal_url_parameter():
    recorded = parse_call({"pixel_id": "CPIX", "method": "track", "args": [
        "ViewContent", {"url": "https://funnel.example.com/p?email=ann%40example.com&plan=pro", "value": 1,
                        "email": "ann@example.com"}, {"event_id": "e-1"}]})
    assert recorded["args"] == ["ViewContent", {"url": "https://funnel.example.com/p?plan=pro", "value": 1,
                                                "email": "a…@example.com (masked)"}, {"event_id": "e-1"}]
