"""The local stack's own guards (docs/design.md §8): which Host it answers, and how its log shows a request."""

import pytest

from local.server import host_allowed, parse_allowed_hosts, printable
from local.testevents import render


@pytest.mark.parametrize("host", ["127.0.0.1:3000", "localhost:3000", "LocalHost:3000", "[::1]:3000", "localhost",
                                  "127.0.0.1", " localhost:3000 "])
def test_local_names_with_this_port_or_none_are_allowed(host):
    assert host_allowed(host, "3000")


@pytest.mark.parametrize("host", ["", "evil.example:3000", "localhost:3001", "127.0.0.1:30000", "[::1]x:3000",
                                  "localhost.evil.example:3000", "127.0.0.2:3000", "[::2]:3000", "0.0.0.0:3000",
                                  "localhost:3000@evil.example", "::1:3000"])
def test_other_names_and_ports_are_refused(host):
    assert not host_allowed(host, "3000")


def test_dev_allowed_hosts_names_more_with_or_without_a_port():
    extra = parse_allowed_hosts(" DevBox.lan , 192.168.1.20:3000,, ")
    assert extra == {"devbox.lan", "192.168.1.20:3000"}
    assert host_allowed("devbox.lan:3000", "3000", extra) and host_allowed("devbox.LAN", "3000", extra)
    assert host_allowed("192.168.1.20:3000", "3000", extra)
    assert not host_allowed("devbox.lan:4000", "3000", extra)
    assert not host_allowed("192.168.1.20", "3000", extra) and not host_allowed("other.lan:3000", "3000", extra)


def test_control_characters_and_backslashes_are_escaped_for_the_log():
    assert printable("/a\x1b[31mb\x07\r\n\x00\x7f\x9b\\") == "/a\\x1b[31mb\\x07\\x0d\\x0a\\x00\\x7f\\x9b\\\\"
    assert printable("/plain/path?x=1&y=é") == "/plain/path?x=1&y=é"


def test_the_test_events_page_shows_a_page_url_without_its_personal_parameters():
    event = {"event": "PageView", "event_id": "e-1", "event_time": 1, "user": {},
             "page": {"url": "https://funnel.example.com/c?plan=pro&email=jane.doe%40example.com"}}
    state = {"tiktok_requests": [{"received_at": "2026-01-01T00:00:00.000Z", "headers": {},
                                  "body": {"event_source_id": "CPIX", "data": [event]},
                                  "response": {"code": 0}}],
             "pixel_requests": [], "queued": [], "dead_lettered": [], "campaigns": []}
    page = render(state)
    assert 'data-testid="page-url">https://funnel.example.com/c?plan=pro</span>' in page
    assert "jane.doe" not in page
