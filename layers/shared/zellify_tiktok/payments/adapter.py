"""What the payment core asks of a provider's adapter (docs/design.md §6.3)."""

from collections.abc import Mapping
from typing import Any, Protocol

from ..repositories.secrets import ProviderSecrets
from .core import Conversion, Ignored

# The signature's time, when the scheme signs one, may differ from ours by this much either way.
SIGNATURE_TOLERANCE_S = 300


class PaymentAdapter(Protocol):
    # The route's `{provider}`, the ledger's first-payment prefix, the logs' `provider`.
    name: str
    # The Config field naming the provider's secret in Secrets Manager.
    secret_name_field: str

    def verify(self, body: bytes, headers: Mapping[str, str], secrets: ProviderSecrets, now: float) -> bool:
        """Check the signature of the raw body; answer whether a *test* secret verified it.

        Raises BadRequest (400, nothing processed) when no configured secret verifies it. `headers` have
        lower-case names, as HTTP API hands them over.
        """
        ...

    def map(self, event: Any, headers: Mapping[str, str], test_mode: bool) -> Conversion | Ignored:
        """The conversion a verified, JSON-decoded event reports, or why it reports none. Never raises."""
        ...

    def describe(self, event: Any, headers: Mapping[str, str]) -> dict[str, str]:
        """The provider's event id and type, for the log line (never personal data)."""
        ...
