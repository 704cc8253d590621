"""Progress of long work (apply, drift, import, report) on a terminal: items done, rate and time left.

Shown only when standard error is a terminal and not under CI (CI=true) nor EDCCONF_PROGRESS=0, so pipes,
CI logs and --json output never carry it; it is written to standard error, never to standard output.
click's progress bar draws it (it also hides itself on anything but a terminal).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import click

T = TypeVar("T")
MIN_ITEMS = 20  # below this the work is over before a bar would be read


def shown() -> bool:
    return (
        sys.stderr.isatty()
        and os.environ.get("CI", "").lower() not in ("1", "true", "yes")
        and os.environ.get("EDCCONF_PROGRESS", "1") != "0"
    )


@contextmanager
def progress(items: Iterable[T], label: str, length: int | None = None) -> Iterator[Iterable[T]]:
    """Iterate `items` with a progress bar when shown(); otherwise `items` as they are."""
    total = length if length is not None else (len(items) if hasattr(items, "__len__") else None)  # type: ignore[arg-type]
    if not shown() or (total is not None and total < MIN_ITEMS):
        yield items
        return
    start, done = time.monotonic(), [0]

    def rate(_item: object) -> str:
        done[0] += 1
        elapsed = time.monotonic() - start
        return f"{done[0] / elapsed:,.0f}/s" if elapsed > 0.5 else ""

    with click.progressbar(
        items,
        length=total,
        label=label,
        file=sys.stderr,
        show_pos=True,
        show_percent=True,
        show_eta=True,
        item_show_func=rate,
    ) as bar:
        yield bar
