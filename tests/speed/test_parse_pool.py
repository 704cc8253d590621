"""Files parsed by forked workers are exactly the files parsed in this process (and the cache's)."""

from pathlib import Path

import pytest

from edcconf.source import load_sources
from edcconf.speed import parse_pool
from edcconf.speed.reader import FastReader
from edcconf.speed.spool import spool
from edcconf.validate.schema import validate_file
from tests.conftest import generate_org


def _load(root, use_cache, **kw):
    """load_sources through speed's reader, with or without the file cache."""
    with pytest.MonkeyPatch.context() as mp:
        if use_cache:
            mp.delenv("EDCCONF_NO_CACHE", raising=False)
        else:
            mp.setenv("EDCCONF_NO_CACHE", "1")
        return load_sources(root, reader=FastReader(), **kw)


def _shape(sources):
    return (
        [(f.path, f.data, f.tree, f.plain_text, f.checked) for f in sources.files],
        [(d.code, d.message, str(d.loc), d.loc.col, d.severity) for d in sources.diagnostics],
        sources.digest,
    )


@pytest.fixture(scope="module")
def org(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("org")
    generate_org(root, 6)
    # a file that does not parse, one the schema refuses (with a plain scalar the schema wants as text)
    # and one that is not UTF-8: their diagnostics must come back from a worker unchanged
    (root / "studies" / "broken.yaml").write_text("study:\n  id: X\n  sites: [BOS, NYC\n  name: y\n")
    (root / "studies" / "refused.yaml").write_text("study:\n  id: 1.10\n  name: 2024\n  system: nope\n")
    (root / "studies" / "latin1.yaml").write_bytes(b"study:\n  name: caf\xe9\n")
    return root


def test_workers_parse_what_this_process_parses(org, monkeypatch):
    monkeypatch.setenv("EDCCONF_WORKERS", "1")
    alone = _load(org, False, check=validate_file)
    monkeypatch.setenv("EDCCONF_WORKERS", "2")
    forked = _load(org, False, check=validate_file)
    assert _shape(forked) == _shape(alone)
    assert any(d.code == "yaml-syntax" for d in forked.diagnostics)
    assert any(f.checked for f in forked.files), "the schema verdicts came back from the workers"
    assert [f.path for f in alone.files if f.checked][0] == "studies/refused.yaml"


def test_entries_written_by_workers_read_back_the_same(tmp_path, org, monkeypatch):
    import shutil

    root = tmp_path / "org"
    shutil.copytree(org, root)
    monkeypatch.setenv("EDCCONF_WORKERS", "2")
    first = _load(root, True, check=validate_file)
    spool.flush()  # the entries are written by the spool's thread; the CLI flushes it before it returns
    assert len(list((root / ".edcconf" / "cache" / "files").rglob("*"))) > len(first.files)
    again = _load(root, True, check=validate_file)  # every file a cache hit
    monkeypatch.setenv("EDCCONF_WORKERS", "1")
    fresh = _load(root, False, check=validate_file)
    plain = load_sources(root, check=validate_file)  # the core's own reader: PyYAML, file by file
    assert _shape(again) == _shape(first) == _shape(fresh) == _shape(plain)


def test_without_a_check_the_schema_stage_still_runs_later(org, monkeypatch):
    monkeypatch.setenv("EDCCONF_WORKERS", "2")
    sources = _load(org, False)
    assert all(f.checked is None for f in sources.files)


def test_a_failure_in_a_worker_is_not_swallowed(org, monkeypatch):
    def broken_check(parsed):
        raise RuntimeError(f"bug while checking {parsed.path}")

    monkeypatch.setenv("EDCCONF_WORKERS", "2")
    with pytest.raises(RuntimeError, match="bug while checking"):
        _load(org, False, check=broken_check)


def test_how_many_workers(monkeypatch):
    small = [("studies/a.yaml", b"study: {}\n", None)] * 10
    large = [("studies/a.yaml", b"x" * 50_000, None)] * (parse_pool.PARALLEL_MIN_FILES + 1)
    monkeypatch.delenv("EDCCONF_WORKERS", raising=False)
    assert parse_pool.workers_for(small) == 1  # forking would cost more than it saves
    assert 1 <= parse_pool.workers_for(large) <= parse_pool.MAX_WORKERS
    monkeypatch.setenv("EDCCONF_WORKERS", "3")
    assert parse_pool.workers_for(small) == 3
    monkeypatch.setenv("EDCCONF_WORKERS", "1")
    assert parse_pool.workers_for(large) == 1
    monkeypatch.setenv("EDCCONF_WORKERS", "many")
    assert parse_pool.workers_for(small) == 1
