"""The `zellify-tiktok` app: global options, the command groups, and errors → exit codes in one place.

Commands live in their own modules and are registered below.
"""

import os
from typing import Annotated, Any

import typer
from botocore.config import Config
from typer.core import TyperGroup

from ..repositories import aws
from . import campaign, dev, erase, health, history, replay, send_test, status
from .common import State
from .errors import HANDLED, classify
from .local import use_local_stack

# An operator waits at a terminal: unlike a function answering a request, retry and wait longer.
OPERATOR_AWS_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "total_max_attempts": 5})


class _Group(TyperGroup):
    """Maps every command's failures to the documented exit codes, instead of a traceback."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except HANDLED as exc:
            exit_code, body = classify(exc)
            (ctx.obj or State()).report_error(body)
            raise typer.Exit(exit_code) from None


app = typer.Typer(
    cls=_Group,
    name="zellify-tiktok",
    no_args_is_help=True,
    help="Operate the TikTok Pixel + Events API integration: campaigns, test events, health, queues, erasure.",
    # Locals of a failing frame may hold an access token: never print them.
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _global_options(
    ctx: typer.Context,
    profile: Annotated[str | None, typer.Option(help="AWS profile (as AWS_PROFILE).")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (as AWS_DEFAULT_REGION).")] = None,
    endpoint_url: Annotated[str | None, typer.Option(
        help="AWS endpoint, e.g. the local stack's moto server (GET /_dev/aws).")] = None,
    stack: Annotated[str | None, typer.Option(
        metavar="NAME", help="A deployed stack: its tables, queues and secret names from its CloudFormation outputs.",
    )] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
    local: Annotated[bool, typer.Option(
        "--local", envvar="ZELLIFY_LOCAL",
        help="The running `make dev` stack at http://127.0.0.1:$PORT (3000): nothing else to set.")] = False,
) -> None:
    # boto3 reads these variables itself, so every client the layer makes sees them; they must be set
    # before the first client is made, and clients made earlier in this process are dropped.
    if local:
        # First: the options below (an explicit --endpoint-url, say) still win over what it sets.
        use_local_stack()
    if profile:
        os.environ["AWS_PROFILE"] = profile
        # As with the AWS CLI, a named profile wins over credentials in the environment
        # (boto3 would otherwise prefer the environment's keys and silently ignore --profile).
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    aws.configure(OPERATOR_AWS_CONFIG)
    ctx.obj = State(json=json_output, stack=stack)


campaign.app.command("history")(history.history)
app.add_typer(campaign.app, name="campaign")
app.command("send-test-event")(send_test.send_test_event)
app.command("status")(status.status)
app.command("health")(health.health)
app.command("erase")(erase.erase)
app.command("replay")(replay.replay)
app.add_typer(dev.app, name="dev")


def main() -> None:
    app()
