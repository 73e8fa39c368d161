"""What every command shares: the runtime built from the environment, output (human or --json), progress."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..campaign import readable
from ..config import Config
from ..repositories.queues import queue_url_by_name
from ..runtime import Runtime
from .stack import config_from_stack

# Without other variables set, the names the local stack (`make dev`) gives its resources: the template's
# logical ids, and its stack name in the secret names. Queue URLs are looked up by name when empty.
LOCAL_STACK_NAMES = {
    "CAMPAIGNS_TABLE": "CampaignsTable",
    "SESSIONS_TABLE": "SessionsTable",
    "SENT_EVENTS_TABLE": "SentEventsTable",
    "HEALTH_TABLE": "HealthTable",
    "AUDIT_TABLE": "AuditTable",
    "DELIVERY_QUEUE_URL": "",
    "DEAD_LETTER_QUEUE_URL": "",
    "SECRET_PREFIX": "zellify-tiktok-local/campaigns/",
    "STRIPE_SECRET_NAME": "zellify-tiktok-local/stripe-webhook",
}


def cli_config() -> Config:
    """The functions' configuration, from the same environment variables, the local stack's names by default."""
    return Config.from_environ(defaults=LOCAL_STACK_NAMES)


@dataclass
class State:
    """The root command's options, handed to every command through typer's context object."""

    json: bool = False
    # --stack: the names come from this CloudFormation stack's Outputs instead of the environment.
    stack: str | None = None
    out: Console = field(default_factory=lambda: Console(highlight=False))
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))
    _runtime: Runtime | None = field(default=None, init=False, repr=False)

    @property
    def runtime(self) -> Runtime:
        # Built on first use, after the global options have set the AWS environment, from the same
        # environment variables the functions read, and once: one CloudFormation call for --stack.
        if self._runtime is None:
            config = cli_config()
            if self.stack:
                config = replace(config, **config_from_stack(self.stack))  # type: ignore[arg-type]
            self._runtime = Runtime.from_config(config)
        return self._runtime

    def emit(self, data: Any, render: Callable[[Console], None]) -> None:
        """`data` as JSON on stdout with --json, else the human rendering."""
        if self.json:
            typer.echo(json.dumps(data, indent=2, default=str))
        else:
            render(self.out)

    def report_error(self, body: dict[str, Any]) -> None:
        if self.json:
            typer.echo(json.dumps(body, default=str), err=True)
            return
        error = body["error"]
        # One line however long (the terminal wraps it), so scripts and logs read one reason per error.
        self.err.print(f"[bold red]Error:[/] {escape(error['message'])}", soft_wrap=True)
        for detail in error.get("details") or []:
            if isinstance(detail, dict) and "field" in detail:
                self.err.print(f"  {escape(str(detail['field']))}: {escape(str(detail.get('message', '')))}")
            else:
                self.err.print(f"  {escape(json.dumps(detail, default=str))}")

    @contextmanager
    def progress(self, description: str, total: int) -> Iterator[Callable[[], None]]:
        """A progress bar on stderr for long work; none with --json, so scripts read clean output."""
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=self.err, disable=self.json, transient=True,
        ) as bar:
            task = bar.add_task(description, total=total)
            yield lambda: bar.advance(task)


def state_of(ctx: typer.Context) -> State:
    state: State = ctx.obj
    return state


def queue_url(configured: str, name: str) -> str:
    """The queue URL from the environment (a deployed stack's physical queue), else looked up by name.

    The local stack names its queues after the template's logical ids (DeliveryQueue, DeadLetterQueue),
    so against `make dev` no URL needs to be configured.
    """
    return configured or queue_url_by_name(name)


def cell(value: Any) -> str:
    """One value as table text (escaped: TikTok messages may hold [brackets] rich would eat)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return escape(json.dumps(value, default=str, separators=(", ", ": ")))
    return escape(str(value))


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"
    days = round(minutes / 1440)
    return f"{days} day{'' if days == 1 else 's'}"


def when(moment: str | datetime | None, now: datetime | None = None) -> str:
    """A time as people read it: "in 23 h (7 Dec 2026, 18:35 UTC)", "5 min ago (…)"; never ISO 8601."""
    if not moment:
        return "-"
    try:
        at = moment if isinstance(moment, datetime) else datetime.fromisoformat(moment)
    except ValueError:
        return str(moment)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    seconds = (at - (now or datetime.now(UTC))).total_seconds()
    relative = f"in {_span(seconds)}" if seconds >= 0 else f"{_span(-seconds)} ago"
    return f"{relative} ({readable(at)})"


def delivery_text(delivery: dict[str, Any] | None) -> str:
    """TikTok's last answer on one line (plain text: pass it through cell() for a table)."""
    if not delivery:
        return "never"
    return f"{when(delivery.get('at'))}: code {delivery.get('code')} {delivery.get('message') or ''}".rstrip()


def print_warnings(console: Console, warnings: list[str], prefix: str = "") -> None:
    for warning in warnings:
        console.print(f"[yellow]![/] {escape(prefix)}{escape(warning)}")


def key_value_table(rows: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    # Long values (a pixel id, a list of origins) wrap inside the terminal instead of being cut.
    table.add_column(overflow="fold")
    for key, value in rows.items():
        table.add_row(escape(key), cell(value))
    return table
