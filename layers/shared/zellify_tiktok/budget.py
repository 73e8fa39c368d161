"""Time budgets: how long an invocation may still spend, on TikTok or in all (docs/design.md §7)."""

import time
from collections.abc import Callable

Clock = Callable[[], float]


class Budget:
    """A deadline on a monotonic clock; sub-budgets never outlast their parent."""

    __slots__ = ("clock", "deadline")

    def __init__(self, seconds: float, clock: Clock = time.monotonic):
        self.clock = clock
        self.deadline = clock() + max(0.0, seconds)

    def remaining(self) -> float:
        left = self.deadline - self.clock()
        return left if left > 0 else 0.0

    def allows(self, seconds: float) -> bool:
        return seconds <= 0 or self.deadline - self.clock() >= seconds

    def within(self, seconds: float, *, keep: float = 0.0) -> "Budget":
        """At most `seconds` of this budget, leaving `keep` seconds of it for what comes after."""
        return Budget(min(seconds, self.remaining() - keep), self.clock)
