"""How many requests one registry gets at once: as many as the client's threads, until the
registry says it is too many.

A 429 or 5xx answer halves the limit (once per round: answers to requests sent before the last
cut say nothing new), and the limit grows back by one after a round of answers without one, up
to just below where the registry last pushed back (for a minute, then up to the ceiling again).
So a registry that throttles above some concurrency is soon asked at that concurrency, and a
throttled request waits for a slot instead of failing again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("pipeline.images.registry.limiter")

#: How long the limit stays below the concurrency at which the registry last pushed back.
HOLD_SECONDS = 60.0


class AdaptiveLimit:
    """A semaphore whose size moves between 1 and ``ceiling`` (additive increase,
    multiplicative decrease)."""

    def __init__(
        self, ceiling: int, clock: Callable[[], float] = time.monotonic, name: str = ""
    ) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.name = name
        self._clock = clock
        self._cond = threading.Condition()
        self._in_flight = 0
        self._round = 0
        self._successes = 0
        #: Grow no further than this until ``_held_until``.
        self._cap = self.ceiling
        self._held_until = 0.0
        self.cuts = 0

    @contextmanager
    def slot(self) -> Iterator[Callable[[bool], None]]:
        """Hold one of the slots; call the yielded function with whether the answer was a
        push-back (429 or 5xx). Not calling it counts as neither."""
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1
            started_in = self._round
        outcome: list[bool] = []
        cut = False
        try:
            yield outcome.append
        finally:
            with self._cond:
                self._in_flight -= 1
                if outcome:
                    cut = self._answered(outcome[-1], started_in)
                self._cond.notify_all()
            if cut:
                log.info("%s pushes back (429 or 5xx): %d requests at once", self.name, self.limit)

    def _answered(self, pushed_back: bool, started_in: int) -> bool:
        """Count one answer; whether it cut the limit."""
        now = self._clock()
        if pushed_back:
            if started_in != self._round:
                return False
            self._cap = max(1, self.limit - 1)
            self._held_until = now + HOLD_SECONDS
            self.limit = max(1, self.limit // 2)
            self._round += 1
            self._successes = 0
            self.cuts += 1
            return True
        self._successes += 1
        if self._successes < self.limit:
            return False
        self._successes = 0
        cap = self._cap if now < self._held_until else self.ceiling
        if self.limit < cap:
            self.limit += 1
        return False
