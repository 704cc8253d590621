"""Parse (and schema-check) the files the cache did not have, on every core when there are many.

Parsing is most of a cold run, and each file is parsed on its own: on a machine with several cores,
forked workers each take a share of the files and send back the same plain data a file-cache entry
holds (marshal: the cache's round trip, so a file parsed here is exactly a file read from the cache).
Each worker also writes those bytes as the file's cache entry: file system calls made from a thread of
this process would compete with it for the interpreter lock.
Small configurations are parsed in this process: starting workers costs more than they save.

EDCCONF_WORKERS=N sets the number of workers (1: never fork; N > 1: fork whatever the size).
"""

from __future__ import annotations

import dataclasses
import marshal
import multiprocessing
import os
from collections.abc import Generator

from ..diagnostics import Diagnostic
from ..source import Check
from ..source.yamlfile import ParsedFile, parse_yaml
from .codec import from_entry, to_entry
from .spool import spool

Job = tuple[str, bytes, "str | None"]  # (path shown to users, bytes, cache key)

MAX_WORKERS = 4
PARALLEL_MIN_FILES = 64  # below either, forking costs more than it saves
PARALLEL_MIN_BYTES = 2 * 1024 * 1024
CHUNK = 8  # files per message: results stream back in order while others parse

_pending: tuple | None = None  # (jobs, check, cache) for forked workers: inherited, never pickled


def env_count(name: str) -> int | None:
    """The environment variable `name` as a count (at least 1), or None when it is unset or not a number."""
    chosen = os.environ.get(name, "").strip()
    try:
        return max(1, int(chosen)) if chosen else None
    except ValueError:
        return None


def chosen_workers() -> int | None:
    """EDCCONF_WORKERS as a number of workers (see env_count)."""
    return env_count("EDCCONF_WORKERS")


def may_fork() -> bool:
    """Whether this command may fork helper processes (parse workers, the state prefetch child): the
    platform can, and EDCCONF_WORKERS is not 1."""
    return chosen_workers() != 1 and "fork" in multiprocessing.get_all_start_methods()


def workers_for(jobs: list[Job]) -> int:
    chosen = chosen_workers()
    if chosen is not None:
        return chosen
    if len(jobs) < PARALLEL_MIN_FILES or sum(len(raw) for _, raw, _ in jobs) < PARALLEL_MIN_BYTES:
        return 1
    return max(
        1, min(MAX_WORKERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    )


def parse_one(rel: str, raw: bytes, key: str | None, check: Check | None, cache) -> tuple:
    """One file parsed, checked when a check is given, and its cache entry written:
    (parsed, parse diagnostics, schema diagnostics or None, the cache entry's plain data)."""

    parsed, diags = parse_yaml(raw, rel)
    checked = check(parsed) if (check is not None and parsed is not None) else None
    entry = to_entry(parsed, diags, checked)
    if cache is not None and key is not None:
        cache.put(key, entry)
    return parsed, diags, checked, entry


def parse_all(
    jobs: list[Job], check: Check | None, cache
) -> Generator[tuple[ParsedFile | None, list[Diagnostic]], None, None]:
    """(parsed, diagnostics) per job, in the jobs' order."""

    workers = workers_for(jobs)
    if workers <= 1 or len(jobs) < 2 or not may_fork():
        for rel, raw, key in jobs:
            parsed, diags = _sequential(rel, raw, key, check, cache)
            yield parsed, diags
        return

    spool.flush()  # no thread of ours is running when the workers are forked (e.g. an incremental
    #                 attempt that queued entries before this full load)
    global _pending
    _pending = (jobs, check, cache)
    try:
        with multiprocessing.get_context("fork").Pool(min(workers, len(jobs))) as pool:
            for (rel, _, key), blob in zip(jobs, pool.imap(_work, range(len(jobs)), CHUNK)):
                yield from_entry(rel, key, marshal.loads(blob))
    finally:
        _pending = None


def _sequential(rel, raw, key, check, cache):
    """In this process: the parsed file itself (no marshal round trip), with its cache key and verdict."""
    parsed, diags, checked, _ = parse_one(rel, raw, key, check, cache)
    if parsed is not None:
        parsed = dataclasses.replace(parsed, cache_key=key, checked=None if checked is None else tuple(checked))
    return parsed, diags


def _work(index: int) -> bytes:
    """In a worker: the file parsed and checked, its cache entry written here (a write from this process's
    own thread; from the command's spool thread, thousands of small writes competing with the command for
    the interpreter lock made a cold validate at N = 2,000 a third slower), the entry returned."""
    jobs, check, cache = _pending  # type: ignore[misc]
    rel, raw, key = jobs[index]
    entry = parse_one(rel, raw, key, check, None)[3]
    blob = marshal.dumps(entry)
    if cache is not None and key is not None:
        cache.put_marshalled_now(key, blob)
    return blob
