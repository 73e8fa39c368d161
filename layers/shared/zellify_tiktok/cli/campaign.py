"""`campaign set|show|list|delete`: the settings API's service functions, from a terminal.

Validation, token handling and the view all come from services/settings.py, so a setting the HTTP
PUT refuses is refused here too, with the same field names. The token never comes from an option
value (it would land in shell history): it is read from stdin, a hidden prompt, or the JSON body.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ..access import terminal_operator
from ..campaign import SETTINGS_FIELDS
from ..services.settings import delete_settings, get_settings_view, put_settings, settings_view
from .common import cell, delivery_text, key_value_table, print_warnings, state_of, when
from .errors import EXIT_USAGE, CommandFailed

app = typer.Typer(no_args_is_help=True, help="Configure a campaign's TikTok Pixel and Events API settings.")


@app.command("set")
def set_campaign(
    ctx: typer.Context,
    campaign_id: Annotated[str, typer.Argument(help="The funnel's campaign id.")],
    pixel_id: Annotated[str | None, typer.Option(help="TikTok Pixel ID (required unless --from-json).")] = None,
    test_event_code: Annotated[str | None, typer.Option(
        help="Route server events to TikTok's Test Events tool (expires after 24 h).")] = None,
    enabled: Annotated[bool | None, typer.Option(
        "--enabled/--disabled", help="A disabled campaign serves no tracker.js and takes no beacons.")] = None,
    allowed_origin: Annotated[list[str] | None, typer.Option(
        metavar="URL", help="An origin allowed to send beacons (repeatable); none given: any origin.")] = None,
    event_name: Annotated[list[str] | None, typer.Option(
        metavar="FUNNEL=TIKTOK", help="Override a TikTok event name, e.g. page_view=Pageview (repeatable).")] = None,
    limited_data_use: Annotated[bool | None, typer.Option(
        "--limited-data-use", help="Flag every event for TikTok's Limited Data Use.")] = None,
    require_consent: Annotated[bool | None, typer.Option(
        "--require-consent", help="Track nothing until the page records the visitor's consent.")] = None,
    report_renewals: Annotated[bool | None, typer.Option(
        "--report-renewals", help="Also report subscription renewals as CompletePayment.")] = None,
    stripe_account: Annotated[str | None, typer.Option(
        metavar="acct_ID", help="Only accept Stripe Connect events of this account.")] = None,
    token_from_stdin: Annotated[bool, typer.Option(
        "--token-from-stdin", help="Read the Events API access token from stdin.")] = False,
    prompt_token: Annotated[bool, typer.Option(
        "--prompt-token", help="Ask for the access token (input hidden).")] = False,
    remove_token: Annotated[bool, typer.Option(
        "--remove-token", help="Remove the access token: pixel only.")] = False,
    from_json: Annotated[str | None, typer.Option(
        metavar="FILE", help="The settings API's PUT body from a file, or - for stdin (may hold access_token).",
    )] = None,
) -> None:
    """Replace a campaign's settings, as the settings API's PUT does.

    Options left out take their defaults: they are not kept from the stored settings.

    The stored access token is kept unless a token option (or access_token in the JSON) says otherwise.
    """
    fields: dict[str, Any] = {
        "pixel_id": pixel_id,
        "test_event_code": test_event_code,
        "enabled": enabled,
        "allowed_origins": allowed_origin,
        "event_names": _event_names(event_name),
        "limited_data_use": limited_data_use,
        "require_consent": require_consent,
        "report_renewals": report_renewals,
        "stripe_account": stripe_account,
    }
    given = {name: value for name, value in fields.items() if value is not None}
    if from_json is not None and given:
        raise typer.BadParameter("--from-json carries every setting: put those fields in the JSON instead")
    if from_json == "-" and token_from_stdin:
        raise typer.BadParameter("stdin holds the JSON: put access_token in it instead of --token-from-stdin")
    token = _token_field(token_from_stdin, prompt_token, remove_token)
    body = json.dumps(given | token).encode() if from_json is None else _merge_token(_read(from_json), token)
    state = state_of(ctx)
    view = put_settings(campaign_id, body, state.runtime, caller=terminal_operator())
    state.emit(view, _render_view(view))


# Every option of `campaign update`, for the message when none is given.
UPDATE_OPTIONS = (
    "--pixel-id", "--test-event-code", "--clear-test-event-code", "--enabled/--disabled", "--allowed-origin",
    "--any-origin", "--event-name", "--limited-data-use/--no-limited-data-use",
    "--require-consent/--no-require-consent", "--report-renewals/--no-report-renewals", "--stripe-account",
    "--clear-stripe-account", "--token-from-stdin", "--prompt-token", "--remove-token",
)


@app.command("update")
def update_campaign(
    ctx: typer.Context,
    campaign_id: Annotated[str, typer.Argument(help="The funnel's campaign id.")],
    pixel_id: Annotated[str | None, typer.Option(help="TikTok Pixel ID.")] = None,
    test_event_code: Annotated[str | None, typer.Option(
        help="A new test event code (expires after 24 h; the same code keeps its expiry).")] = None,
    clear_test_event_code: Annotated[bool, typer.Option(
        "--clear-test-event-code", help="Send server events to live traffic again.")] = False,
    enabled: Annotated[bool | None, typer.Option(
        "--enabled/--disabled", help="A disabled campaign serves no tracker.js and takes no beacons.")] = None,
    allowed_origin: Annotated[list[str] | None, typer.Option(
        metavar="URL", help="Replace the allowed origins with these (repeatable).")] = None,
    any_origin: Annotated[bool, typer.Option("--any-origin", help="Accept beacons from any origin.")] = False,
    event_name: Annotated[list[str] | None, typer.Option(
        metavar="FUNNEL=TIKTOK", help="Override one TikTok event name, the others are kept; FUNNEL= drops that "
                                      "override (repeatable).")] = None,
    limited_data_use: Annotated[bool | None, typer.Option(
        "--limited-data-use/--no-limited-data-use", help="TikTok's Limited Data Use flag.")] = None,
    require_consent: Annotated[bool | None, typer.Option(
        "--require-consent/--no-require-consent", help="Track nothing until the visitor's consent.")] = None,
    report_renewals: Annotated[bool | None, typer.Option(
        "--report-renewals/--no-report-renewals", help="Report subscription renewals as CompletePayment.")] = None,
    stripe_account: Annotated[str | None, typer.Option(
        metavar="acct_ID", help="Only accept Stripe Connect events of this account.")] = None,
    clear_stripe_account: Annotated[bool, typer.Option(
        "--clear-stripe-account", help="Accept Stripe events of any account.")] = False,
    token_from_stdin: Annotated[bool, typer.Option(
        "--token-from-stdin", help="A new Events API access token from stdin.")] = False,
    prompt_token: Annotated[bool, typer.Option(
        "--prompt-token", help="Ask for a new access token (input hidden): token rotation.")] = False,
    remove_token: Annotated[bool, typer.Option(
        "--remove-token", help="Remove the access token: pixel only.")] = False,
) -> None:
    """Change only the settings given; everything else, the access token included, stays as stored.

    Validated as the settings API's PUT validates. Rotate a token with `campaign update ID --prompt-token`.
    """
    changes: dict[str, Any] = {
        name: value for name, value in {
            "pixel_id": pixel_id, "test_event_code": test_event_code, "enabled": enabled,
            "allowed_origins": allowed_origin, "limited_data_use": limited_data_use,
            "require_consent": require_consent, "report_renewals": report_renewals, "stripe_account": stripe_account,
        }.items() if value is not None
    }
    for clear_flag, set_flag, name, cleared in (
        ("--clear-test-event-code", "--test-event-code", "test_event_code", clear_test_event_code),
        ("--any-origin", "--allowed-origin", "allowed_origins", any_origin),
        ("--clear-stripe-account", "--stripe-account", "stripe_account", clear_stripe_account),
    ):
        if cleared:
            if name in changes:
                message = f"{clear_flag} and {set_flag} exclude each other"
                raise CommandFailed(EXIT_USAGE, "conflicting_options", message)
            changes[name] = None
    token = _token_field(token_from_stdin, prompt_token, remove_token)
    if not (changes or event_name or token):
        raise CommandFailed(EXIT_USAGE, "nothing_to_update",
                            f"campaign update changes only what it is given: give at least one of "
                            f"{', '.join(UPDATE_OPTIONS)}")
    state = state_of(ctx)
    stored = get_settings_view(campaign_id, state.runtime, caller=terminal_operator())  # an unknown campaign exits 3
    # The stored settings as a PUT body; an unchanged test code keeps its expiry (campaign.apply_settings).
    body = {name: stored[name] for name in SETTINGS_FIELDS if name != "test_event_code_expires_at"}
    if event_name:
        # FUNNEL= drops that override; the others are kept.
        names = {**body["event_names"], **(_event_names(event_name) or {})}
        changes["event_names"] = {funnel: tiktok for funnel, tiktok in names.items() if tiktok}
    view = put_settings(campaign_id, json.dumps(body | changes | token).encode(), state.runtime,
                        caller=terminal_operator())
    state.emit(view, _render_view(view))


@app.command("show")
def show_campaign(ctx: typer.Context, campaign_id: Annotated[str, typer.Argument()]) -> None:
    """Show a campaign's settings, warnings and TikTok's last answer (never the token)."""
    state = state_of(ctx)
    view = get_settings_view(campaign_id, state.runtime, caller=terminal_operator())
    state.emit(view, _render_view(view))


@app.command("list")
def list_campaigns(ctx: typer.Context) -> None:
    """List the configured campaigns."""
    state = state_of(ctx)
    now = datetime.now(UTC)
    campaigns = sorted(state.runtime.campaigns.list(), key=lambda c: c.campaign_id)
    rows = [
        {**settings_view(c, now), "test_event_code_active": c.active_test_event_code(now) is not None}
        for c in campaigns
    ]

    def render(console: Console) -> None:
        if not rows:
            console.print("No campaigns configured.")
            return
        # Fits 80 columns: short words per cell, and what still does not fit folds onto more lines (never cut).
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        table.add_column("campaign", overflow="fold")
        table.add_column("pixel", overflow="fold", min_width=min(32, max(len(r["pixel_id"]) for r in rows)))
        table.add_column("server", overflow="fold")
        table.add_column("test code", overflow="fold")
        table.add_column("last delivery", overflow="fold", min_width=13)
        for row in rows:
            server = "on" if row["server_side"] else "off"
            table.add_row(cell(row["campaign_id"]), cell(row["pixel_id"]),
                          server if row["enabled"] else "disabled", _test_code_text(row),
                          cell(_short_delivery(row["last_delivery"])))
        console.print(table)

    state.emit(rows, render)


@app.command("delete")
def delete_campaign(
    ctx: typer.Context,
    campaign_id: Annotated[str, typer.Argument()],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a campaign's settings and its access token at once (no recovery window)."""
    state = state_of(ctx)
    # Read first: an unknown id (a typo) exits 3 instead of silently deleting nothing.
    view = get_settings_view(campaign_id, state.runtime, caller=terminal_operator())
    if not yes:
        typer.confirm(f"Delete campaign {campaign_id} (pixel {view['pixel_id']}) and its access token?",
                      abort=True, err=True)
    delete_settings(campaign_id, state.runtime, caller=terminal_operator())
    state.emit({"deleted": campaign_id},
               lambda console: console.print(f"Deleted campaign {cell(campaign_id)} and its access token."))


def _event_names(pairs: list[str] | None) -> dict[str, str] | None:
    """FUNNEL=TIKTOK pairs as the PUT body's event_names; the names themselves are validated by the service."""
    if not pairs:
        return None
    names = {}
    for pair in pairs:
        funnel, sep, tiktok = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"{pair!r}: expected FUNNEL=TIKTOK, e.g. page_view=Pageview",
                                     param_hint="--event-name")
        names[funnel.strip()] = tiktok.strip()
    return names


def _token_field(from_stdin: bool, prompt: bool, remove: bool) -> dict[str, Any]:
    """The PUT body's access_token as the options ask: a value, null (remove), or absent (keep)."""
    chosen = [name for name, on in (("--token-from-stdin", from_stdin), ("--prompt-token", prompt),
                                    ("--remove-token", remove)) if on]
    if len(chosen) > 1:
        raise typer.BadParameter(f"{' and '.join(chosen)} exclude each other")
    if from_stdin:
        return {"access_token": typer.get_text_stream("stdin").read().strip()}
    if prompt:
        return {"access_token": typer.prompt("TikTok Events API access token", hide_input=True, err=True).strip()}
    if remove:
        return {"access_token": None}
    return {}


def _read(source: str) -> bytes:
    if source == "-":
        return typer.get_binary_stream("stdin").read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {source}: {exc.strerror}", param_hint="--from-json") from None


def _merge_token(body: bytes, token: dict[str, Any]) -> bytes:
    if not token:
        return body
    try:
        parsed = json.loads(body)
    except ValueError:
        return body  # put_settings answers with the same 400 the HTTP API gives
    if not isinstance(parsed, dict):
        return body
    if "access_token" in parsed:
        raise typer.BadParameter("the JSON names access_token already; drop it or the token option")
    return json.dumps(parsed | token).encode()


def _render_view(view: dict[str, Any]) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        rows = {key: value for key, value in view.items() if key != "warnings"}
        times = {key: when(view[key]) for key in ("test_event_code_expires_at", "updated_at") if view.get(key)}
        console.print(key_value_table(rows | times | {"last_delivery": delivery_text(view["last_delivery"])}))
        print_warnings(console, view["warnings"])

    return render


def _test_code_text(row: dict[str, Any]) -> str:
    if not row["test_event_code"]:
        return "-"
    if not row["test_event_code_active"]:
        return cell(f"{row['test_event_code']} (expired)")
    left = when(row["test_event_code_expires_at"]).split(" (")[0].removeprefix("in ")
    return cell(f"{row['test_event_code']} ({left} left)")


def _short_delivery(delivery: dict[str, Any] | None) -> str:
    if not delivery:
        return "never"
    ago = when(delivery.get("at")).split(" (")[0]
    return f"{ago}: code {delivery.get('code')} {delivery.get('message') or ''}".rstrip()
