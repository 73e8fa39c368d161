"""`erase`: delete what is stored about one visitor of one campaign (a data-subject request).

Only session records hold personal data. The SentEvents ledger keys on pixel + event name +
event_id and holds nothing about the person, so it stays (it also keeps TikTok from being sent an
event twice). The raw email is only hashed, never printed or logged.
"""

from typing import Annotated

import typer
from rich.console import Console

from ..hashing import hash_email, is_valid_email
from .common import cell, state_of
from .errors import EXIT_USAGE, CommandFailed


def erase(
    ctx: typer.Context,
    campaign: Annotated[str, typer.Option(help="The campaign the visitor went through.")],
    session: Annotated[str | None, typer.Option(help="The visitor's funnel session id.")] = None,
    email: Annotated[str | None, typer.Option(
        metavar="ADDRESS", help="The visitor's email address, or - to read it from stdin (keeps it out of "
                                "shell history); every session of the campaign with this email is erased.")] = None,
) -> None:
    """Delete the session record(s) of one visitor. Erasing nothing (no match) is not an error."""
    if (session is None) == (email is None):
        raise typer.BadParameter("give exactly one of --session or --email")
    state = state_of(ctx)
    rt = state.runtime
    if session is not None:
        session_ids = [session]
    else:
        address = (typer.get_text_stream("stdin").readline() if email == "-" else email) or ""
        if not is_valid_email(address):
            # The address itself is not repeated: this output may end up in a ticket or a log.
            raise CommandFailed(EXIT_USAGE, "invalid_email", "--email: not a valid email address")
        session_ids = rt.sessions.find_by_email_hash(campaign, hash_email(address))

    deleted = 0
    with state.progress("Erasing sessions", total=len(session_ids)) as advance:
        for session_id in session_ids:
            deleted += rt.sessions.delete(campaign, session_id)
            advance()

    def render(console: Console) -> None:
        noun = "record" if deleted == 1 else "records"
        console.print(f"Deleted {deleted} session {noun} of campaign {cell(campaign)}.")
        if not deleted:
            console.print("Nothing was stored for this visitor (or it expired).")

    state.emit({"campaign_id": campaign, "deleted": deleted}, render)
