"""Who may touch a campaign (docs/design.md §6.4): the caller read from the JWT claims, and the rule."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from zellify_tiktok.access import (
    AccessAdminOnly,
    Caller,
    access_to_store,
    caller_from_claims,
    groups_from_claim,
    may_see,
    terminal_operator,
    visible,
)
from zellify_tiktok.api import operator_caller
from zellify_tiktok.campaign import CampaignSettings

PERSON = {"sub": "8f1e-person", "client_id": "console-client", "token_use": "access",
          "scope": "openid email zellify-tiktok/campaigns", "username": "8f1e-person"}
MACHINE = {"sub": "machine-client", "client_id": "machine-client", "token_use": "access",
           "scope": "zellify-tiktok/campaigns"}


def person(*groups: str) -> Caller:
    return Caller("sub-1", "p@agency.example", "console", tuple(groups), is_admin=False)


ADMIN = Caller("sub-admin", "a@example.com", "console", ("zellify-admins",), is_admin=True)


# The claims


def test_api_gateway_writes_a_list_claim_as_bracketed_words():
    assert groups_from_claim("[agency-acme growth]") == ("agency-acme", "growth")
    assert groups_from_claim("[]") == ()


def test_a_list_claim_as_the_token_has_it_is_read_too():
    assert groups_from_claim(["agency-acme", "growth"]) == ("agency-acme", "growth")


@pytest.mark.parametrize("value", [None, "agency-acme", "", 7, True, {"a": 1}, "[unclosed", "agency-acme]"])
def test_a_group_claim_of_the_wrong_type_means_no_groups(value):
    assert groups_from_claim(value) == ()


def test_names_that_are_not_group_names_are_dropped_and_repeats_kept_once():
    assert groups_from_claim(["ok", "not ok", "", "x" * 65, 3, "ok", "a.b_c-d"]) == ("ok", "a.b_c-d")


@given(st.one_of(st.none(), st.text(max_size=80), st.integers(), st.lists(st.text(max_size=70), max_size=30),
                 st.dictionaries(st.text(max_size=5), st.text(max_size=5))))
def test_no_claim_value_raises(value):
    groups = groups_from_claim(value)
    assert isinstance(groups, tuple) and all(isinstance(group, str) for group in groups)


def test_a_person_in_the_admin_group_is_an_admin():
    caller = caller_from_claims({**PERSON, "cognito:groups": "[zellify-admins agency-acme]"})
    assert caller.is_admin and caller.groups == ("zellify-admins", "agency-acme") and caller.sub == "8f1e-person"


def test_a_person_in_other_groups_is_not_an_admin():
    caller = caller_from_claims({**PERSON, "cognito:groups": "[agency-acme]"})
    assert not caller.is_admin and caller.groups == ("agency-acme",)


def test_a_person_without_a_group_claim_is_no_admin_even_with_a_client_id():
    caller = caller_from_claims(PERSON)
    assert not caller.is_admin and caller.groups == ()


def test_a_person_whose_group_claim_is_a_bare_string_is_in_no_group():
    caller = caller_from_claims({**PERSON, "cognito:groups": "zellify-admins"})
    assert not caller.is_admin and caller.groups == ()


def test_a_machine_client_acts_as_an_admin():
    caller = caller_from_claims(MACHINE)
    assert caller.is_admin and caller.client_id == "machine-client" and caller.email is None


def test_a_machine_client_whose_token_carries_groups_is_limited_to_them():
    caller = caller_from_claims({**MACHINE, "cognito:groups": "[agency-acme]"})
    assert not caller.is_admin and caller.groups == ("agency-acme",)


def test_an_auth0_style_client_credentials_token_is_a_machine():
    caller = caller_from_claims({"sub": "abc@clients", "azp": "abc", "gty": "client-credentials"})
    assert caller.is_admin and caller.client_id == "abc"


def test_a_token_naming_a_person_is_never_a_machine_even_when_sub_equals_client_id():
    assert not caller_from_claims({"sub": "x", "client_id": "x", "email": "eve@example.com"}).is_admin
    assert not caller_from_claims({"sub": "x", "client_id": "x", "username": "eve"}).is_admin


def test_another_issuers_group_claim_is_read_by_its_name():
    claims = {**PERSON, "groups": "[zellify-admins]", "cognito:groups": "[agency-acme]"}
    assert caller_from_claims(claims, groups_claim="groups").is_admin
    assert not caller_from_claims(claims).is_admin


def test_the_admin_group_is_a_parameter():
    claims = {**PERSON, "cognito:groups": "[ops]"}
    assert caller_from_claims(claims, admin_group="ops").is_admin
    assert not caller_from_claims(claims).is_admin


def test_the_email_is_the_email_claim_else_a_username_that_is_an_address():
    assert caller_from_claims({**PERSON, "email": "jane@agency.example"}).email == "jane@agency.example"
    assert caller_from_claims({**PERSON, "username": "jane@agency.example"}).email == "jane@agency.example"
    assert caller_from_claims(PERSON).email is None


def test_the_caller_is_read_from_the_authorizer_context_of_the_event():
    event = {"requestContext": {"http": {"sourceIp": "203.0.113.9"},
                                "authorizer": {"jwt": {"claims": {**PERSON, "cognito:groups": "[growth]"}}}}}
    caller = operator_caller(event, admin_group="zellify-admins", groups_claim="cognito:groups")
    assert caller == Caller("8f1e-person", None, "console-client", ("growth",), False, "203.0.113.9")


@pytest.mark.parametrize("context", [{}, {"authorizer": None}, {"authorizer": {"jwt": None}},
                                     {"authorizer": {"jwt": {"claims": "x"}}}])
def test_an_event_without_claims_is_a_caller_who_sees_nothing(context):
    caller = operator_caller({"requestContext": context}, admin_group="zellify-admins", groups_claim="cognito:groups")
    assert not caller.is_admin and caller.groups == () and not may_see(caller, ["anything"])


# The rule


def test_an_admin_sees_every_campaign_even_one_without_access():
    assert may_see(ADMIN, []) and may_see(ADMIN, ["agency-acme"])


def test_a_person_sees_a_campaign_naming_one_of_their_groups_only():
    assert may_see(person("agency-acme", "growth"), ["growth"])
    assert not may_see(person("agency-acme"), ["agency-beta"])
    assert not may_see(person(), [])


def test_the_list_keeps_the_campaigns_the_caller_may_see():
    campaigns = [CampaignSettings("a", "PIXEL000", access=("agency-acme",)),
                 CampaignSettings("b", "PIXEL000", access=("beta",)), CampaignSettings("c", "PIXEL000")]
    assert [c.campaign_id for c in visible(person("agency-acme"), campaigns)] == ["a"]
    assert [c.campaign_id for c in visible(ADMIN, campaigns)] == ["a", "b", "c"]


def test_a_campaign_a_person_creates_gets_their_groups():
    assert access_to_store(person("agency-acme", "growth"), None, None) == ("agency-acme", "growth")


def test_a_campaign_an_admin_creates_without_access_is_for_admins():
    assert access_to_store(ADMIN, None, None) == ()


def test_a_put_that_omits_access_keeps_the_stored_one():
    assert access_to_store(person("agency-acme"), None, ("agency-acme", "x")) == ("agency-acme", "x")
    assert access_to_store(ADMIN, None, ("agency-acme",)) == ("agency-acme",)


def test_an_admin_sets_access():
    assert access_to_store(ADMIN, ("beta",), ("agency-acme",)) == ("beta",)


def test_a_person_changing_access_is_refused():
    with pytest.raises(AccessAdminOnly) as refused:
        access_to_store(person("agency-acme"), ("agency-acme", "beta"), ("agency-acme",))
    assert refused.value.status == 403 and refused.value.code == "access_admin_only"


def test_a_person_may_repeat_the_stored_access_in_any_order():
    assert access_to_store(person("a"), ("b", "a"), ("a", "b")) == ("a", "b")


def test_a_person_in_no_group_cannot_create_a_campaign():
    with pytest.raises(AccessAdminOnly) as refused:
        access_to_store(person(), None, None)
    assert refused.value.code == "no_group"


def test_the_cli_acts_as_an_admin_named_by_the_terminal_user():
    operator = terminal_operator()
    assert operator.is_admin and operator.sub.startswith("cli:") and operator.client_id == "zellify-tiktok-cli"
