"""The local stack's Paddle and Solidgate webhook secrets (docs/design.md §8), shared by the stack, the demo's
pay buttons and `zellify-tiktok dev webhook`.

Paddle: `PADDLE_WEBHOOK_SECRET` (live, default pdl_dev_live) and `PADDLE_TEST_WEBHOOK_SECRET` (test, default
pdl_dev_test). Solidgate: `SOLIDGATE_WEBHOOK_KEYS` as `pk:sk,pk:sk`, the live pair first, then the test one
(default wh_pk_dev_live:wh_sk_dev_live,wh_pk_dev_test:wh_sk_dev_test).
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from zellify_tiktok.payments.dev_secrets import (
    DEFAULT_PADDLE_LIVE,
    DEFAULT_PADDLE_TEST,
    DEFAULT_SOLIDGATE_KEYS,
    solidgate_pairs,
)


@dataclass(frozen=True)
class LocalPaymentSecrets:
    paddle_live: str = DEFAULT_PADDLE_LIVE
    paddle_test: str = DEFAULT_PADDLE_TEST
    solidgate_live: tuple[str, str] = DEFAULT_SOLIDGATE_KEYS[0]
    solidgate_test: tuple[str, str] | None = DEFAULT_SOLIDGATE_KEYS[1]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "LocalPaymentSecrets":
        env = os.environ if environ is None else environ
        pairs = solidgate_pairs(env.get("SOLIDGATE_WEBHOOK_KEYS")) or list(DEFAULT_SOLIDGATE_KEYS)
        return cls(paddle_live=env.get("PADDLE_WEBHOOK_SECRET") or DEFAULT_PADDLE_LIVE,
                   paddle_test=env.get("PADDLE_TEST_WEBHOOK_SECRET") or DEFAULT_PADDLE_TEST,
                   solidgate_live=pairs[0], solidgate_test=pairs[1] if len(pairs) > 1 else None)

    def by_setting(self) -> dict[str, tuple[str, list[str], list[str]]]:
        """Per secret-name variable of the template: (provider, live secrets, test secrets)."""
        solidgate_test = [":".join(self.solidgate_test)] if self.solidgate_test else []
        return {
            "PADDLE_SECRET_NAME": ("Paddle", [self.paddle_live], [self.paddle_test]),
            "SOLIDGATE_SECRET_NAME": ("Solidgate", [":".join(self.solidgate_live)], solidgate_test),
        }

    def banner_lines(self, base: str) -> list[str]:
        test_pair = f", test {self.solidgate_test[0]} / {self.solidgate_test[1]}" if self.solidgate_test else ""
        return [
            f"  Paddle secrets    live {self.paddle_live}, test {self.paddle_test}  (POST {base}/v1/webhooks/paddle)",
            f"  Solidgate keys    live {self.solidgate_live[0]} / {self.solidgate_live[1]}{test_pair}  "
            f"(POST {base}/v1/webhooks/solidgate)",
            "  Payment webhook   zellify-tiktok dev webhook {stripe|paddle|solidgate} {payment|failed|trial|"
            "subscribe|renewal} --campaign demo --session S",
        ]
