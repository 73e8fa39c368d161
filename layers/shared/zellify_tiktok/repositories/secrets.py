"""Secrets Manager: one secret per campaign (its Events API token) and one per payment provider (signing secrets).

Reads go through Powertools' SecretsProvider, cached with a short max age across warm invocations.
"""

import contextlib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .aws import client

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

_RECREATE_ATTEMPTS = 5


class SecretUnavailable(Exception):
    """Secrets Manager could not be read (not: the secret does not exist)."""


@dataclass(frozen=True)
class ProviderSecrets:
    """A payment provider's signing secrets: `live` ones, and `test` ones (its test mode / sandbox)."""

    live: tuple[str, ...] = ()
    test: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.live or self.test)


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    return tuple(s.strip() for s in value if isinstance(s, str) and s.strip()) if isinstance(value, list) else ()


def parse_provider_secrets(raw: str | None) -> ProviderSecrets:
    """`{"live": [...], "test": [...]}` (several each during a rotation); the older `{"secrets": [...]}` and a
    bare string are live secrets."""
    if not raw:
        return ProviderSecrets()
    try:
        parsed = json.loads(raw)
    except ValueError:
        return ProviderSecrets(live=_strings(raw))
    if isinstance(parsed, dict):
        return ProviderSecrets(live=_strings(parsed.get("live", [])) + _strings(parsed.get("secrets", [])),
                               test=_strings(parsed.get("test", [])))
    return ProviderSecrets(live=_strings(parsed))


class SecretsRepository:
    def __init__(self, prefix: str, stripe_secret_name: str, max_age_s: int):
        self.prefix = prefix
        self.stripe_secret_name = stripe_secret_name
        self.max_age_s = max_age_s
        self._provider: SecretsProvider | None = None

    @property
    def provider(self) -> "SecretsProvider":
        if self._provider is None:
            # Imported on the first read: the collector never reads a secret, and Powertools' parameters
            # package (AppConfig, SSM, DynamoDB providers with it) would add to its cold start.
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._provider = SecretsProvider(boto3_client=client("secretsmanager"))
        return self._provider

    def token_name(self, campaign_id: str) -> str:
        return f"{self.prefix}{campaign_id}"

    def _read(self, name: str, *, force: bool = False) -> str | None:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            value = self.provider.get(name, max_age=self.max_age_s, force_fetch=force)
        except GetParameterError as exc:
            if "ResourceNotFoundException" in str(exc):
                return None
            raise SecretUnavailable(type(exc).__name__) from None
        return value if isinstance(value, str) else None

    def get_token(self, campaign_id: str) -> str | None:
        return self._read(self.token_name(campaign_id))

    def put_token(self, campaign_id: str, token: str) -> None:
        secrets = client("secretsmanager")
        name = self.token_name(campaign_id)
        for attempt in range(_RECREATE_ATTEMPTS):
            try:
                secrets.put_secret_value(SecretId=name, SecretString=token)
                break
            except secrets.exceptions.ResourceNotFoundException:
                try:
                    secrets.create_secret(
                        Name=name,
                        SecretString=token,
                        Description=f"TikTok Events API access token of campaign {campaign_id}",
                    )
                    break
                except secrets.exceptions.InvalidRequestException:
                    # A force delete finishes asynchronously: the name is free again within moments.
                    if attempt == _RECREATE_ATTEMPTS - 1:
                        raise SecretUnavailable("the previous secret is still being deleted; try again") from None
                    time.sleep(0.5 * (attempt + 1))
        self.provider.clear_cache()  # type: ignore[no-untyped-call]

    def delete_token(self, campaign_id: str) -> None:
        """Force delete (no recovery window), so the campaign can be configured again at once."""
        secrets = client("secretsmanager")
        with contextlib.suppress(secrets.exceptions.ResourceNotFoundException):
            secrets.delete_secret(SecretId=self.token_name(campaign_id), ForceDeleteWithoutRecovery=True)
        self.provider.clear_cache()  # type: ignore[no-untyped-call]

    def provider_secrets(self, name: str) -> ProviderSecrets:
        """The signing secrets kept in the secret `name` (none when the name is empty or the secret is absent)."""
        return parse_provider_secrets(self._read(name)) if name else ProviderSecrets()
