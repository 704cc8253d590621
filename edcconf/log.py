"""Debug logging: `-v` (info), `-vv` or `EDCCONF_LOG=debug` (debug) on standard error.

Stages log what they did and how long it took under the `edcconf.<stage>` loggers; nothing is logged by
default. Secrets never reach a log line: tokens and DSNs are read from the environment by name and only
the name is ever logged (a DSN is shown redacted, as in every message).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure(verbosity: int) -> None:
    """-v → info, -vv → debug; EDCCONF_LOG=<level> when no -v is given. An unknown EDCCONF_LOG value is
    said once and ignored (a typo never stops a command)."""
    named = os.environ.get("EDCCONF_LOG", "").strip().lower()
    level = {0: None, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    if level is None and named:
        level = LEVELS.get(named)
        if level is None:
            sys.stderr.write(f"edcconf: EDCCONF_LOG={named!r} is not one of {', '.join(LEVELS)}; ignored\n")
    root = logging.getLogger("edcconf")
    if level is None:
        root.setLevel(logging.WARNING)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


@contextmanager
def timed(logger: logging.Logger, what: str) -> Iterator[None]:
    """Logs `what` and the seconds it took, at debug level (nothing is measured when debug is off)."""
    if not logger.isEnabledFor(logging.DEBUG):
        yield
        return
    start = time.perf_counter()
    yield
    logger.debug("%s: %.3f s", what, time.perf_counter() - start)
