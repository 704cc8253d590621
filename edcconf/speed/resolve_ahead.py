"""validate's environments worked out side by side (resolve.use_ahead).

`validate` resolves every environment but keeps only what each one finds (diagnostics, grants above their
ceilings, grants suspended for a lacking qualification). Each environment's effective state is about 5 µs
a grant of one core: at N = 2,000 studies two environments were 3-5 s one after the other, while the
machine's other core sat idle once parsing was over. So the environments after the first are worked out
by forked children while this process works out the first; each sends back its findings as marshal data
(speed.codec's diagnostic tuples), decoded into the very values resolve would have made here.

A child that fails (a finding marshal cannot carry, a crash) answers None and that environment is worked
out here, as without it. EDCCONF_WORKERS=1 (never fork), EDCCONF_SPEED=off or a small organisation: none.
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Callable

from ..model import frozen_map
from ..resolve import EnvironmentOutcome
from .child import Child
from .codec import diag_in, diag_out
from .parse_pool import may_fork

AHEAD_MIN_STUDIES = 200  # below this an environment costs less than a fork


def environments_ahead(
    envs: list[str], outcome: Callable[[str], EnvironmentOutcome], studies: int
) -> dict[str, Callable[[], EnvironmentOutcome | None]]:
    """A child per environment (up to one per spare core), each working out outcome(env); env -> what
    takes its answer (None when it failed)."""
    spare = (os.cpu_count() or 1) - 1  # this process works out the first environment
    if not envs or studies < AHEAD_MIN_STUDIES or spare < 1 or not may_fork():
        return {}
    taken: dict[str, Callable[[], EnvironmentOutcome | None]] = {}
    for env in envs[:spare]:
        child = Child.fork(lambda env=env: _encoded(outcome(env)))  # type: ignore[misc]
        taken[env] = lambda child=child: _decoded(child.answer())  # type: ignore[misc]
    return taken


def _encoded(done: EnvironmentOutcome) -> bytes:
    return marshal.dumps(
        (
            [diag_out(d) for d in done.diagnostics],
            {key: (diag_out(d), stored) for key, (d, stored) in done.ceilings.items()},
            {key: diag_out(d) for key, d in done.qualifications.items()},
        )
    )


def _decoded(blob: bytes | None) -> EnvironmentOutcome | None:
    if blob is None:
        return None
    try:
        diagnostics, ceilings, qualifications = marshal.loads(blob)
        return EnvironmentOutcome(
            None,
            tuple(diag_in(t) for t in diagnostics),
            frozen_map({key: (diag_in(t), stored) for key, (t, stored) in ceilings.items()}),
            frozen_map({key: diag_in(t) for key, t in qualifications.items()}),
        )
    except (ValueError, EOFError, TypeError, IndexError):
        return None
