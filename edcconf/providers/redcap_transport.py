"""How edcconf's requests reach a REDCap server: one HTTP session per thread, retries, and a limiter
shared by every thread that talks to the same host.

- Transport failures (timeouts, connection errors) and 500/502/503/504 are retried by urllib3 with
  exponential backoff, a bounded number of times (503's Retry-After is honoured).
- HTTP 429 (Too Many Requests) is the server asking us to slow down: the request waits the Retry-After it
  names (capped) and is sent again, up to RETRIES_429 times, and the host's limit of requests in flight
  drops by one (it grows back by one after a run of answers without 429), so a server whose cap is below
  --parallelism is asked at the pace it can take rather than failing projects.
- At most `--parallelism` requests are in flight per host (scheme and address of the API URL), however
  many projects share it; with `requests_per_second:` on the target, requests also start at most that
  often (evenly spaced).
"""

from __future__ import annotations

import functools
import random
import threading
import time
from typing import Any
from urllib.parse import urlsplit

RETRIES_429 = 30  # a request answered 429 this many times in a row is a failure
MAX_RETRY_AFTER = 60.0  # seconds: a server asking for longer is not waited for that long
GROW_AFTER = 20  # answers without 429 before the host's limit grows back by one


class HostLimiter:
    """Requests in flight to one host: at most `limit`, which 429s lower (to 1 at least) and a run of
    good answers raises again up to `ceiling`."""

    def __init__(self, ceiling: int, per_second: float | None = None) -> None:
        self.ceiling = self.limit = max(1, ceiling)
        self.in_flight = 0
        self.interval = 1.0 / per_second if per_second else 0.0
        self._next_start = 0.0
        self._good = 0
        self._cond = threading.Condition()

    def widen(self, ceiling: int, per_second: float | None) -> None:
        with self._cond:
            self.ceiling = max(self.ceiling, ceiling)
            self.limit = max(self.limit, min(self.ceiling, ceiling))
            if per_second:
                self.interval = max(self.interval, 1.0 / per_second)  # the strictest cap asked for
            self._cond.notify_all()

    def acquire(self) -> None:
        with self._cond:
            while self.in_flight >= self.limit:
                self._cond.wait()
            self.in_flight += 1
            start = max(time.monotonic(), self._next_start)  # requests per second: the next free start
            self._next_start = start + self.interval
        if self.interval:
            time.sleep(max(0.0, start - time.monotonic()))

    def release(self, throttled: bool) -> None:
        with self._cond:
            self.in_flight -= 1
            if throttled:
                self.limit, self._good = max(1, self.limit - 1), 0
            else:
                self._good += 1
                if self._good >= GROW_AFTER and self.limit < self.ceiling:
                    self.limit, self._good = self.limit + 1, 0
            self._cond.notify_all()


_limiters: dict[str, HostLimiter] = {}
_limiters_lock = threading.Lock()


def limiter_for(url: str, ceiling: int, per_second: float | None = None) -> HostLimiter:
    parts = urlsplit(url)
    host = f"{parts.scheme}://{parts.netloc}"
    with _limiters_lock:
        found = _limiters.get(host)
        if found is None:
            found = _limiters[host] = HostLimiter(ceiling, per_second)
        else:
            found.widen(ceiling, per_second)
        return found


def retry_after(response: Any, attempt: int) -> float:
    """Seconds to wait before sending again: the server's Retry-After (seconds), else a short backoff;
    plus a little spread so that the threads it refused do not all come back at the same instant."""
    try:
        wait = float(response.headers.get("Retry-After", ""))
    except ValueError:
        wait = min(0.25 * 2**attempt, 8.0)
    return min(max(wait, 0.0), MAX_RETRY_AFTER) + random.uniform(0, 0.25)


@functools.cache  # one class, made when first needed (requests is imported only then)
def _retry_class():
    from urllib3.util.retry import Retry  # local: urllib3 is slow to import

    class NotOn429(Retry):
        """urllib3's retries for transport failures and 5xx; 429 is left to LimitedAdapter."""

        RETRY_AFTER_STATUS_CODES = frozenset({413, 503})

    return NotOn429


@functools.cache  # one class, made when first needed (requests is imported only then)
def _adapter_class():
    from requests.adapters import HTTPAdapter  # local: requests is slow to import

    class LimitedAdapter(HTTPAdapter):
        def __init__(self, limiter: HostLimiter, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.limiter = limiter

        def send(self, request, **kwargs):
            for attempt in range(RETRIES_429 + 1):
                self.limiter.acquire()
                throttled = False
                try:
                    response = super().send(request, **kwargs)
                    throttled = response.status_code == 429
                finally:
                    self.limiter.release(throttled)
                if not throttled or attempt == RETRIES_429:
                    return response
                wait = retry_after(response, attempt)
                response.close()
                time.sleep(wait)
            raise AssertionError("unreachable")

    return LimitedAdapter


@functools.cache  # one class, made when first needed (requests is imported only then)
def _session_class():
    import requests  # local: requests is slow to import

    class EnvironmentOnce(requests.Session):
        """Proxies, netrc and CA bundle from the environment, read once per session rather than per
        request (requests scans every environment variable each time: with a token variable per project,
        that was a good part of a request's CPU)."""

        def merge_environment_settings(self, url, proxies, stream, verify, cert):
            try:
                key = (url, tuple(sorted((proxies or {}).items())), stream, verify, cert)
                hash(key)
            except TypeError:  # an unhashable argument: as requests does
                return super().merge_environment_settings(url, proxies, stream, verify, cert)
            cache = self.__dict__.setdefault("_edcconf_environment", {})
            if key not in cache:
                cache[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
            found = cache[key]
            return {**found, "proxies": dict(found["proxies"])}

    return EnvironmentOnce


def new_session(url: str, retries: int, backoff: float, in_flight: int, per_second: float | None = None):
    """A requests session for one thread: urllib3's retries inside the host's limiter."""
    retry = _retry_class()(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=None,
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    adapter = _adapter_class()(
        limiter_for(url, in_flight, per_second), max_retries=retry, pool_maxsize=max(10, in_flight)
    )
    session = _session_class()()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class ThreadSessions:
    """One session per thread (requests.Session is not documented as safe to share between threads)."""

    def __init__(self, url: str, retries: int, backoff: float, in_flight: int, per_second: float | None = None) -> None:
        self._args = (url, retries, backoff, in_flight, per_second)
        self._local = threading.local()

    def get(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = new_session(*self._args)
        return session
