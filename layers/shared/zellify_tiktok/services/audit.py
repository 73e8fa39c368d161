"""GET /v1/campaigns/{campaign_id}/tiktok/audit (docs/design.md §6.4 "Audit"): a campaign's history.

Entries outlive the campaign: an admin reads a deleted campaign's history; anyone else needs to see the
campaign, so for them a deleted one has none.
"""

from typing import Any

from ..access import Caller
from ..errors import Unprocessable
from ..runtime import Runtime
from .settings import audit_log, campaign_for, checked_id

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
LIMIT_RULE = f"A whole number from 1 to {MAX_LIMIT}."


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise Unprocessable(f"limit: {LIMIT_RULE}", code="invalid_limit",
                            details=[{"field": "limit", "message": LIMIT_RULE}])
    return int(raw)


def audit_view(campaign_id: str, limit: str | None, runtime: Runtime, *,
               caller: Caller) -> dict[str, Any]:
    """The campaign's newest entries first, at most `limit`."""
    count = parse_limit(limit)
    campaign_id = checked_id(campaign_id)
    if not caller.is_admin:
        campaign_for(caller, campaign_id, runtime)
    return {"entries": [entry.as_dict() for entry in audit_log(runtime).newest(campaign_id, count)]}
