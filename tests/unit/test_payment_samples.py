"""The local webhooks `zellify-tiktok dev webhook` and the demo post (payments/samples.py) are what each
adapter verifies and maps to the event the page hands to tracker.js."""

import json
import time
from decimal import Decimal

import pytest
from zellify_tiktok.payments.core import Conversion
from zellify_tiktok.payments.samples import KINDS, PROVIDERS, build
from zellify_tiktok.repositories.secrets import ProviderSecrets
from zellify_tiktok.services.payment_webhook import ADAPTERS

LOCAL = {"stripe": ProviderSecrets(live=("whsec_dev",)),
         "paddle": ProviderSecrets(live=("pdl_dev_live",), test=("pdl_dev_test",)),
         "solidgate": ProviderSecrets(live=("wh_pk_dev_live:wh_sk_dev_live",),
                                      test=("wh_pk_dev_test:wh_sk_dev_test",))}


@pytest.mark.parametrize("test_mode", [False, True])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_local_webhook_verifies_and_maps_to_its_event(provider, kind, test_mode):
    webhook = build(provider, kind, campaign_id="demo", session_id="s-1", value=Decimal("12.50"),
                    currency="EUR", test_mode=test_mode)
    adapter = ADAPTERS[provider]
    verified_test = adapter.verify(webhook.body, webhook.headers, LOCAL[provider], time.time())
    conversion = adapter.map(json.loads(webhook.body), webhook.headers, verified_test)
    assert isinstance(conversion, Conversion), conversion
    assert (conversion.funnel_event, conversion.event_id) == (webhook.funnel_event, webhook.event_id)
    assert (conversion.campaign_id, conversion.session_id) == ("demo", "s-1")
    assert (verified_test or conversion.test_mode) is test_mode
    if webhook.funnel_event in ("payment_succeeded", "payment_failed"):
        assert (conversion.value, conversion.currency) == (Decimal("12.50"), "EUR")


def test_trial_subscribe_and_renewal_of_one_session_share_the_subscription():
    ids = {build("paddle", kind, campaign_id="demo", session_id="s-1").event_id for kind in ("trial", "subscribe")}
    assert len(ids) == 1
