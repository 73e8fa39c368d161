from zellify_tiktok.events import EVENT_TABLE, browser_event_table, tiktok_event_name


def test_table_matches_design_section_3():
    assert {name: spec.tiktok for name, spec in EVENT_TABLE.items()} == {
        "page_view": "PageView",
        "lead": "Lead",
        "page_completed": "PageCompleted",
        "email_captured": "CompleteRegistration",
        "checkout_presented": "InitiateCheckout",
        "payment_method_added": "AddPaymentInfo",
        "payment_succeeded": "CompletePayment",
        "payment_failed": "PaymentFailed",
        "trial_started": "StartTrial",
        "subscription_started": "Subscribe",
    }
    pixel_only = {name for name, spec in EVENT_TABLE.items() if not spec.beacon}
    assert pixel_only == {"payment_succeeded", "payment_failed", "trial_started", "subscription_started"}


def test_campaign_override_wins():
    overrides = {"payment_succeeded": "Purchase", "page_view": "Pageview"}
    assert tiktok_event_name("payment_succeeded", overrides) == "Purchase"
    assert tiktok_event_name("lead", overrides) == "Lead"


def test_browser_table_carries_beacon_flags():
    table = browser_event_table()
    assert table["payment_succeeded"] == {"tiktok": "CompletePayment", "beacon": False}
    assert table["page_view"] == {"tiktok": "PageView", "beacon": True}
