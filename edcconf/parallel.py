"""Work on several EDC projects at once (`--parallelism N`, default 8 like Terraform; 1: one after another).

The live commands (drift, compliance --live, import redcap, plan's refresh, apply) spend their time waiting
for a server, one project at a time. Here each project's work runs on a thread of a bounded pool, and the
results come back in the order the items were given, so that what a command prints, records and audits is
the same at any parallelism. On Ctrl-C no new item is started, the items in progress finish (each stops at
its next safe point: see `stopping`), and KeyboardInterrupt reaches the caller.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TypeVar

from .progress import progress

DEFAULT_PARALLELISM = 8
T = TypeVar("T")
R = TypeVar("R")

_configured = DEFAULT_PARALLELISM


def configure(n: int) -> None:
    """Set by the CLI's --parallelism for this process's command."""
    global _configured
    if n < 1:
        raise ValueError("parallelism must be at least 1")
    _configured = n


def parallelism() -> int:
    return _configured


@dataclass
class Stop:
    """Set on Ctrl-C: the work of an item checks it before each step it could leave for later."""

    event: threading.Event = field(default_factory=threading.Event)

    @property
    def requested(self) -> bool:
        return self.event.is_set()


def run_ordered(
    items: Sequence[T], work: Callable[[T, Stop], R], label: str, workers: int | None = None, stop: Stop | None = None
) -> list[R]:
    """work(item, stop) for each item on at most `workers` threads (default: parallelism()); the results in
    the items' order. An exception of one item's work is raised once every started item has finished (the
    first in item order). Ctrl-C: stop is set, nothing new starts, the started items finish, then
    KeyboardInterrupt is raised (run_ordered_interruptible returns what was done instead)."""
    results, interrupted = run_ordered_interruptible(items, work, label, workers, stop)
    if interrupted:
        raise KeyboardInterrupt
    return [r for _, r in sorted(results.items())]


def run_ordered_interruptible(
    items: Sequence[T], work: Callable[[T, Stop], R], label: str, workers: int | None = None, stop: Stop | None = None
) -> tuple[dict[int, R], bool]:
    """As run_ordered, but Ctrl-C returns (index -> result of each item that finished, True)."""
    stop = stop or Stop()
    workers = max(1, min(workers or parallelism(), len(items) or 1))
    results: dict[int, R] = {}
    errors: dict[int, BaseException] = {}
    # on threads even for one worker: Ctrl-C lands in this thread, which waits, never in the middle of an
    # item's work (a change carried out but not yet journaled)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="edcconf-live")
    futures: dict[Future, int] = {}
    interrupted = False
    try:
        futures = {pool.submit(_unless_stopped, work, item, stop): i for i, item in enumerate(items)}
        with progress(_as_done(futures), label, length=len(items)) as done:
            for future in done:
                _collect(future, futures[future], results, errors)
    except KeyboardInterrupt:
        interrupted = True
        stop.event.set()
        for future in futures:
            future.cancel()
        for future in futures:  # the started items finish their current step (a second Ctrl-C: leave now)
            if not future.cancelled():
                try:
                    future.exception()
                except BaseException:  # noqa: BLE001 - cancelled meanwhile
                    continue
                _collect(future, futures[future], results, errors)
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
    if errors and not interrupted:
        raise errors[min(errors)]
    return results, interrupted


_SKIPPED = object()


def _unless_stopped(work, item, stop: Stop):
    return _SKIPPED if stop.requested else work(item, stop)


def _collect(future: Future, index: int, results: dict, errors: dict) -> None:
    exc = future.exception()
    if exc is not None:
        errors[index] = exc
        return
    value = future.result()
    if value is not _SKIPPED:
        results[index] = value


def _as_done(futures: dict[Future, int]) -> Iterator[Future]:
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
        yield from sorted(done, key=futures.__getitem__)
