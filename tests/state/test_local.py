"""Local state: atomic, backed up, locked, and refused with advice when damaged."""

import json
import multiprocessing
import os

import pytest

from edcconf.diagnostics import UserError
from edcconf.state import LocalBackend, StateRecord, next_record


def record(backend, serial_from=0):
    prev = backend.read()
    return next_record(prev, {"accounts": {"a": {"status": "active"}}}, {}, "abc123")


def test_read_of_nothing_is_serial_zero(tmp_path):
    rec = LocalBackend(tmp_path, "test").read()
    assert rec.serial == 0 and rec.lineage is None and not rec.exists


def test_write_read_round_trip_and_backup(tmp_path):
    backend = LocalBackend(tmp_path, "test")
    first = record(backend)
    backend.write(first, expected_serial=0)
    assert backend.read() == StateRecord.from_json(json.loads(backend.path.read_text()), "x")
    second = next_record(backend.read(), {}, {}, None)
    backend.write(second, expected_serial=1)
    assert backend.read().serial == 2 and backend.read().lineage == first.lineage
    backup = json.loads((backend.path.parent / "test.json.backup").read_text())
    assert backup["serial"] == 1
    assert not [p for p in backend.path.parent.iterdir() if p.name.endswith(".tmp")]


def test_compare_and_swap_refuses_a_moved_state(tmp_path):
    backend = LocalBackend(tmp_path, "test")
    backend.write(record(backend), expected_serial=0)
    with pytest.raises(UserError) as exc:
        backend.write(record(backend), expected_serial=0)
    assert exc.value.code == "state-conflict"


@pytest.mark.parametrize(
    "content,needle",
    [
        ("{not json", "not valid JSON"),
        ('{"format_version": 99}', "format_version 99"),
        ("[1, 2]", "not an edcconf state"),
    ],
)
def test_damaged_state_is_refused_with_recovery_advice(tmp_path, content, needle):
    backend = LocalBackend(tmp_path, "test")
    backend.path.parent.mkdir(parents=True)
    backend.path.write_text(content)
    with pytest.raises(UserError) as exc:
        backend.read()
    assert needle in exc.value.message and ".backup" in exc.value.message


def _hold_lock(root, ready, release):
    backend = LocalBackend(root, "test")
    with backend.lock("apply"):
        ready.set()
        release.wait(10)


def test_lock_names_its_holder_and_times_out(tmp_path):
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(tmp_path, ready, release))
    proc.start()
    try:
        assert ready.wait(10)
        with pytest.raises(UserError) as exc:
            with LocalBackend(tmp_path, "test").lock("plan", timeout=0.3):
                pass
        message = exc.value.message
        assert exc.value.code == "state-locked" and f"pid {proc.pid}" in message and "after waiting 0.3s" in message
        assert "edcconf force-unlock test" in message
    finally:
        release.set()
        proc.join(10)
    with LocalBackend(tmp_path, "test").lock("plan"):  # released when the holder finished
        pass


def test_failed_write_is_a_clear_error_and_leaves_the_state_untouched(tmp_path):
    """Works as root too: a directory squats on the temporary file's name, so the write cannot happen."""
    backend = LocalBackend(tmp_path, "test")
    backend.write(record(backend), expected_serial=0)
    before = backend.path.read_bytes()
    (backend.path.parent / f".test.json.{os.getpid()}.tmp").mkdir()
    with pytest.raises(UserError) as exc:
        backend.write(next_record(backend.read(), {}, {}, None), expected_serial=1)
    assert exc.value.code == "state-write" and "untouched" in exc.value.message
    assert backend.path.read_bytes() == before and backend.read().serial == 1


def test_state_location_taken_by_a_file_is_a_clear_read_error(tmp_path):
    (tmp_path / ".edcconf").mkdir()
    (tmp_path / ".edcconf" / "state").write_text("not a directory")
    with pytest.raises(UserError) as exc:
        LocalBackend(tmp_path, "test").read()
    assert exc.value.code == "state-read"


def test_stored_serial_reads_the_header_or_falls_back_to_a_full_read(tmp_path):
    backend = LocalBackend(tmp_path, "test")
    assert backend.stored_serial() == 0
    backend.write(record(backend), expected_serial=0)
    backend.write(next_record(backend.read(), {}, {}, None), expected_serial=1)
    assert backend.stored_serial() == backend.read().serial == 2
    from edcconf.state.local import _HEADER

    assert _HEADER.match(backend.path.read_bytes()[:4096])[3] == b"2"  # read from the header, as written
    data = json.loads(backend.path.read_text())
    # edited by hand: keys in another order, the serial last; the full read still finds it
    backend.path.write_text(json.dumps({k: data[k] for k in reversed(list(data))}))
    assert backend.stored_serial() == 2
    with pytest.raises(UserError) as exc:  # a moved state is refused from the fallback too
        backend.write(next_record(backend.read(), {}, {}, None), expected_serial=1)
    assert exc.value.code == "state-conflict"
    data["environment"] = "production"  # another environment's file: reported as read() reports it
    backend.path.write_text(json.dumps(data, indent=1))
    with pytest.raises(UserError) as exc:
        backend.stored_serial()
    assert "holds the state of environment 'production'" in exc.value.message
