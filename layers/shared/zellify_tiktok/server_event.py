"""`ServerEvent`: one conversion on its way to TikTok's Events API, made alike by the beacon and Stripe paths.

Everything the event table decides (the TikTok name after a campaign's overrides, which events carry a
value, the fixed value 0 of StartTrial and Subscribe, `content_type` and `num_items` of a payment) is
applied here, once, by `server_event()`. `payload.py` alone turns the value into TikTok's JSON.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from .events import EVENT_TABLE, tiktok_event_name

# The match keys TikTok takes in `user`, in the order the health figures list them (docs/design.md §5, §9).
MATCH_KEYS = ("external_id", "email", "phone", "ttp", "ttclid", "ip", "user_agent")
PAYMENT_SUCCEEDED = "payment_succeeded"


# Built once per request on the request path: not frozen (a frozen dataclass costs about four times as much
# to build); nothing changes one after it is made. No slots: its instance dict keeps TikTok's `user` object
# and its keys once made, outside the fields (so never in a queue message or a stored session).
@dataclass
class UserData:
    """What identifies the visitor to TikTok: hashes of external_id, email and phone; the rest raw."""

    external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    ttp: str | None = None
    ttclid: str | None = None
    ip: str | None = None
    user_agent: str | None = None

    def present(self) -> dict[str, str]:
        """The keys that carry a value, as TikTok's `user` object (made once; shared: read it, never change it)."""
        made: dict[str, str] | None = self.__dict__.get("_present")
        if made is None:
            made = self.__dict__["_present"] = {key: value for key in MATCH_KEYS if (value := getattr(self, key))}
        return made

    def match_keys(self) -> tuple[str, ...]:
        """The names of the keys that carry a value, in MATCH_KEYS order (made once)."""
        made: tuple[str, ...] | None = self.__dict__.get("_match_keys")
        if made is None:
            made = self.__dict__["_match_keys"] = tuple(self.present())
        return made


# Built per event on the request path: not frozen (a frozen dataclass costs about four times as much
# to build); nothing changes one after it is made.
@dataclass(slots=True)
class Content:
    """One item of `contents`."""

    content_id: str | None = None
    content_name: str | None = None
    quantity: int | None = None
    price: Decimal | None = None

    def as_dict(self) -> dict[str, object]:
        item: dict[str, object] = {}
        if self.content_id is not None:
            item["content_id"] = self.content_id
        if self.content_name is not None:
            item["content_name"] = self.content_name
        if self.quantity is not None:
            item["quantity"] = self.quantity
        if self.price is not None:
            item["price"] = self.price
        return item


@dataclass(slots=True)
class ServerEvent:
    funnel_event: str
    # TikTok's event name, after the campaign's `event_names` overrides.
    name: str
    event_id: str
    # Unix seconds.
    event_time: int
    user: UserData
    limited_data_use: bool = False
    value: Decimal | None = None
    currency: str | None = None
    contents: tuple[Content, ...] = ()
    content_type: str | None = None
    num_items: int | None = None
    # PageCompleted: the step id.
    content_name: str | None = None
    page_url: str | None = None
    page_referrer: str | None = None

    @property
    def is_payment(self) -> bool:
        return self.funnel_event == PAYMENT_SUCCEEDED


@dataclass(frozen=True, slots=True)
class Naming:
    """What a campaign decides about every event: TikTok names and Limited Data Use."""

    event_names: Mapping[str, str]
    limited_data_use: bool


def server_event(
    funnel_event: str,
    naming: Naming,
    *,
    event_id: str,
    event_time: int,
    user: UserData,
    value: Decimal | None = None,
    currency: str | None = None,
    contents: Sequence[Content] = (),
    step_id: str | None = None,
    page_url: str | None = None,
    page_referrer: str | None = None,
) -> ServerEvent:
    """The event a funnel event stands for, with the event table's rules applied."""
    spec = EVENT_TABLE[funnel_event]
    if spec.fixed_value is not None:
        value = spec.fixed_value
    if not spec.has_value:
        value, currency, contents = None, None, ()
    if value is None or not currency:
        # TikTok takes a value only with its currency.
        value, currency = None, None
    items = tuple(contents)
    payment = funnel_event == PAYMENT_SUCCEEDED
    return ServerEvent(
        funnel_event=funnel_event,
        name=tiktok_event_name(funnel_event, naming.event_names),
        event_id=event_id,
        event_time=event_time,
        user=user,
        limited_data_use=naming.limited_data_use,
        value=value,
        currency=currency,
        contents=items,
        content_type="product" if items or payment else None,
        num_items=sum(1 if c.quantity is None else c.quantity for c in items) if payment else None,
        content_name=step_id if funnel_event == "page_completed" else None,
        page_url=page_url,
        # A referrer without the page's url is no page to TikTok: it would refuse the event (40002).
        page_referrer=page_referrer if page_url else None,
    )
