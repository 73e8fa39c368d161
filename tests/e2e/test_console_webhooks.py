"""The console's campaign page names the payment webhook URLs to paste in each provider's dashboard."""

import pytest
from playwright.sync_api import expect

from tests.e2e.test_console import browser, campaign_id, configure, console  # noqa: F401 (fixtures)

pytestmark = pytest.mark.e2e


def test_the_campaign_page_names_each_providers_webhook_url(stack, console, campaign_id):  # noqa: F811
    configure(stack, campaign_id)
    console.sign_in()
    console.open(campaign_id)
    for provider in ("stripe", "paddle", "solidgate"):
        expect(console.by(f"webhook-url-{provider}")).to_have_text(f"{stack.base_url}/v1/webhooks/{provider}")
    expect(console.by("webhook-metadata")).to_contain_text(f"zellify_campaign_id: {campaign_id}")
