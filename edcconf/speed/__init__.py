"""The performance machinery: the file cache, parse workers, the plan memo, the incremental planner, the
state prefetch, value-sharing state decoding and background cache writes.

It only stores, reuses and parallelises what the core computes: no rule of the domain is decided here.
The core takes it through hooks (source.use_reader, state.local.use_decoder, resolve.use_ahead,
apply.finish.use_beside, plan_environment's prefetched_state); install() fills them and the workflow
(plan_for_review, plan_under_lock) uses the rest.
EDCCONF_SPEED=off switches all of it off: no cache read or written, no worker, no memo, no incremental
plan, no prefetch (EDCCONF_NO_CACHE=1 switches off only what reads or writes `.edcconf/cache/`).
"""

from __future__ import annotations

import os
from collections.abc import Callable


def enabled() -> bool:
    """False when EDCCONF_SPEED=off: the core alone, exactly as it computes everything."""
    return os.environ.get("EDCCONF_SPEED", "").strip().lower() != "off"


def cache_enabled() -> bool:
    """Whether `.edcconf/cache/` may be read and written (file cache, plan memo, incremental planner)."""
    return enabled() and not os.environ.get("EDCCONF_NO_CACHE")


def install() -> Callable[[], None]:
    """Fill the core's hooks (or empty them when speed is off): the CLI does, once per command. Returns
    what puts the previous hooks back (an in-process caller, e.g. a test, gets the core as it was)."""
    from .. import resolve, source
    from ..apply import finish
    from ..source import blame
    from ..state import local

    before = (source._default_reader, local._decode, blame._store, resolve._ahead, finish._beside)

    def restore() -> None:
        source.use_reader(before[0])
        local.use_decoder(before[1])
        blame.use_store(before[2])
        resolve.use_ahead(before[3])
        finish.use_beside(before[4])

    if not enabled():
        source.use_reader(None)
        local.use_decoder(None)
        blame.use_store(None)
        resolve.use_ahead(None)
        finish.use_beside(None)
        return restore
    from .decode import loads_shared
    from .file_cache import BlameCache
    from .finish_beside import finish_beside
    from .reader import FastReader
    from .resolve_ahead import environments_ahead

    source.use_reader(FastReader())
    resolve.use_ahead(environments_ahead)  # validate's environments side by side
    finish.use_beside(finish_beside)  # a large apply's bulk files written while it journals
    local.use_decoder(loads_shared)
    blame.use_store(BlameCache() if cache_enabled() else None)  # access reviews' git blame (#20)
    return restore
