"""Who may touch a campaign (docs/design.md §6.4): the caller as a typed value, and the access rule.

Pure: no AWS, no HTTP. `caller_from_claims` reads what API Gateway's JWT authorizer hands a function
(`requestContext.authorizer.jwt.claims`, every value a string, a list as "[a b]"); the rest decide.
"""

import getpass
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ApiError

GROUP_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_GROUPS = 20
GROUP_NAME_RULE = "Each group name is 1 to 64 letters, digits, dots, dashes or underscores."
DEFAULT_ADMIN_GROUP = "zellify-admins"
DEFAULT_GROUPS_CLAIM = "cognito:groups"


class AccessAdminOnly(ApiError):
    status = 403
    code = "access_admin_only"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling an operator route, and from where."""

    sub: str
    email: str | None
    client_id: str | None
    groups: tuple[str, ...]
    is_admin: bool
    source_ip: str | None = None


def groups_from_claim(value: Any) -> tuple[str, ...]:
    """A group claim as a tuple of valid group names; anything else (a bare string, a number, absent) is none.

    API Gateway writes a list claim as "[a b]"; a list arrives as itself where a test or another adapter
    passes the token's own claims. A string that is not bracketed was a string in the token: no groups.
    """
    if isinstance(value, str):
        text = value.strip()
        if len(text) < 2 or text[0] != "[" or text[-1] != "]":
            return ()
        items: Iterable[Any] = text[1:-1].split()
    elif isinstance(value, list | tuple):
        items = value
    else:
        return ()
    names = [item for item in items if isinstance(item, str) and GROUP_NAME.fullmatch(item)]
    return tuple(dict.fromkeys(names))


def caller_from_claims(claims: Mapping[str, Any], *, admin_group: str = DEFAULT_ADMIN_GROUP,
                       groups_claim: str = DEFAULT_GROUPS_CLAIM, source_ip: str | None = None) -> Caller:
    """The caller a verified token names.

    A machine client (client credentials: its `sub` is its `client_id`, or `gty` says so, and no
    `username` of a person) acts as an admin unless its token carries groups; a person is an admin only
    as a member of the admin group.
    """
    groups = groups_from_claim(claims.get(groups_claim))
    sub = _text(claims.get("sub")) or ""
    client_id = _text(claims.get("client_id")) or _text(claims.get("azp"))
    username = _text(claims.get("username"))
    email = _text(claims.get("email"))
    if email is None and username and "@" in username:
        email = username  # a Cognito access token names the person by username, an email in many pools
    machine = email is None and client_id is not None and (
        (sub == client_id and username in (None, client_id)) or claims.get("gty") == "client-credentials")
    is_admin = admin_group in groups or (machine and not groups)
    return Caller(sub=sub, email=email, client_id=client_id, groups=groups, is_admin=is_admin, source_ip=source_ip)


def terminal_operator() -> Caller:
    """The CLI's caller: someone holding the stack's AWS credentials, who can write its tables directly
    anyway, so an admin; named in the audit trail by the terminal's user."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        user = "unknown"
    return Caller(sub=f"cli:{user}", email=None, client_id="zellify-tiktok-cli", groups=(), is_admin=True)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def may_see(caller: Caller, access: Iterable[str]) -> bool:
    """Admins see every campaign; anyone else a campaign whose access names one of their groups."""
    return caller.is_admin or not set(caller.groups).isdisjoint(access)


def visible(caller: Caller, campaigns: Iterable[Any]) -> list[Any]:
    """The campaigns (anything with an `access`) the caller may see."""
    return [campaign for campaign in campaigns if may_see(caller, campaign.access)]


def access_to_store(caller: Caller, requested: tuple[str, ...] | None,
                    stored: tuple[str, ...] | None) -> tuple[str, ...]:
    """A PUT's resulting `access`: what it asks (admins), else what is stored, else the creator's groups.

    `stored` is None for a campaign the PUT creates. A non-admin may send `access` only unchanged.
    """
    if stored is None and not caller.is_admin and not caller.groups:
        raise AccessAdminOnly("You belong to no group, so nobody but an admin could see a campaign you create. "
                              "Ask an admin to add you to a group.", code="no_group")
    current = stored if stored is not None else (() if caller.is_admin else caller.groups)
    if requested is None:
        return current
    if caller.is_admin:
        return requested
    if set(requested) != set(current):
        raise AccessAdminOnly("Only an admin may change who can see a campaign (access).",
                              details=[{"field": "access", "message": "Only an admin may change this."}])
    return current
