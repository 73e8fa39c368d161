"""A payment provider's signing secrets as kept in Secrets Manager (docs/design.md §6.3)."""

import pytest
from zellify_tiktok.repositories.secrets import ProviderSecrets, parse_provider_secrets


@pytest.mark.parametrize(("raw", "expected"), [
    ('{"live": ["a", "b"], "test": ["t"]}', ProviderSecrets(live=("a", "b"), test=("t",))),
    ('{"secrets": ["whsec_old", "whsec_new"]}', ProviderSecrets(live=("whsec_old", "whsec_new"))),  # the older form
    ('{"live": "one"}', ProviderSecrets(live=("one",))),
    ("whsec_plain", ProviderSecrets(live=("whsec_plain",))),
    ('["a", "", 3, " b "]', ProviderSecrets(live=("a", "b"))),
    ('{"live": [], "test": []}', ProviderSecrets()),
    ("", ProviderSecrets()),
    (None, ProviderSecrets()),
])
def test_live_and_test_secrets_are_read_from_every_accepted_form(raw, expected):
    assert parse_provider_secrets(raw) == expected


def test_no_secret_at_all_is_falsy():
    assert not ProviderSecrets() and ProviderSecrets(test=("t",))
