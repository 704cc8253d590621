"""What makes the REDCap API *emulator* behave like a real server under load (it is not REDCap):
answer latency with jitter, a cap on requests in flight answered by HTTP 429, and injected failures.

* Latency: each request is answered ``latency_ms`` ± a uniform ``jitter_ms`` after it arrived (the time
  spent working on it counts towards it, as on a server whose answers take that long).  The draws come
  from a seeded generator, so a run is repeatable in its delays as far as thread timing allows.
* Concurrency cap: with ``max_concurrent`` set, a request that arrives while that many are in flight
  (arrived and not yet answered) is answered at once with HTTP 429 ``Too Many Requests`` and a
  ``Retry-After`` header (whole seconds, RFC 9110 section 10.2.3), as a rate-limited server or its proxy
  does; nothing of it is carried out and it is not in ``emulator.requests``.
* Injected failures: rules that match requests by action, content and project and answer them with a
  status instead of carrying them out -- the next ``n`` matching requests (``fail_next``), or an exact
  share of them spread evenly (``fail_rate``: with rate 0.25 the 4th, 8th, 12th ... matching request
  fails).  An injected 429 carries ``Retry-After`` too.

Counters (``counts``) tell how many requests arrived, were answered 429 by the cap, failed by injection
or lost, and the most in flight at once; a benchmark reads them per step.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass

TOO_MANY = "Too Many Requests"


def effective_action(fields: dict[str, str]) -> str:
    """The action a request asks for: ``action``, else import when it sends ``data``, else export."""
    return fields.get("action") or ("import" if "data" in fields else "export")


@dataclass
class FailRule:
    """Fail requests that match (None matches anything): the next ``remaining`` of them, or with ``rate``
    an exact, evenly spread share of them."""

    status: int
    body: str
    remaining: int | None = None
    rate: float | None = None
    action: str | None = None
    content: str | None = None
    project: int | None = None
    seen: int = 0

    def matches(self, fields: dict[str, str], project_id: int | None) -> bool:
        return (
            (self.action is None or self.action == effective_action(fields))
            and (self.content is None or self.content == fields.get("content"))
            and (self.project is None or self.project == project_id)
        )

    def take(self) -> bool:
        """Called for a matching request: whether it fails."""
        if self.rate is not None:
            self.seen += 1
            return math.floor(self.seen * self.rate + 1e-9) > math.floor((self.seen - 1) * self.rate + 1e-9)
        if self.remaining:
            self.remaining -= 1
            return True
        return False

    @property
    def spent(self) -> bool:
        return self.rate is None and not self.remaining


class ServerSim:
    """Latency, the concurrency cap, injected failures and the counters of one emulator (thread-safe)."""

    def __init__(
        self,
        latency_ms: float = 0,
        jitter_ms: float = 0,
        max_concurrent: int | None = None,
        retry_after: int = 1,
        seed: int = 20240514,
    ) -> None:
        if latency_ms < 0 or jitter_ms < 0:
            raise ValueError("latency_ms and jitter_ms must be 0 or more")
        if max_concurrent is not None and max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1 (None: no cap)")
        if retry_after < 0:
            raise ValueError("retry_after must be 0 or more (whole seconds)")
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms
        self.max_concurrent = max_concurrent
        self.retry_after = int(retry_after)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._rules: list[FailRule] = []
        self._in_flight = 0
        self._counts = dict.fromkeys(("received", "rejected", "failed", "lost", "peak_in_flight"), 0)

    # -- admission -----------------------------------------------------------------------------------
    def admit(self) -> tuple[float, bool]:
        """A request arrived: (its answer's due time on time.monotonic(), whether it may be served).
        A request refused by the cap is not in flight and must not be released."""
        now = time.monotonic()
        with self._lock:
            self._counts["received"] += 1
            delay = self.latency_ms
            if self.jitter_ms:
                delay += self._rng.uniform(-self.jitter_ms, self.jitter_ms)
            if self.max_concurrent is not None and self._in_flight >= self.max_concurrent:
                self._counts["rejected"] += 1
                return now, False
            self._in_flight += 1
            self._counts["peak_in_flight"] = max(self._counts["peak_in_flight"], self._in_flight)
        return now + max(delay, 0.0) / 1000.0, True

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    @staticmethod
    def wait_until(due: float) -> None:
        left = due - time.monotonic()
        if left > 0:
            time.sleep(left)

    def headers_for(self, status: int) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if status == 429 else {}

    # -- failures ------------------------------------------------------------------------------------
    def add_rule(self, rule: FailRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear_rules(self) -> None:
        with self._lock:
            self._rules.clear()

    def injected(self, fields: dict[str, str], project_id: int | None) -> FailRule | None:
        """The rule that fails this request, if any (rules in the order they were added; a request is
        counted by every rate rule it matches up to the one that fails it)."""
        with self._lock:
            for rule in self._rules:
                if not rule.spent and rule.matches(fields, project_id) and rule.take():
                    self._counts["failed"] += 1
                    self._rules = [r for r in self._rules if not r.spent]
                    return rule
        return None

    def count_lost(self) -> None:
        with self._lock:
            self._counts["lost"] += 1

    # -- counters ------------------------------------------------------------------------------------
    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return {**self._counts, "in_flight": self._in_flight}

    def reset_counts(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(self._counts, 0)
