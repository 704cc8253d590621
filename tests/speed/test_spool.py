"""The spool writes cache entries in a background thread: in order, atomically, all of them by flush()."""

from edcconf.speed.spool import Spool


def test_writes_land_in_order_by_flush(tmp_path):
    spool = Spool()
    target = tmp_path / "sub" / "dir" / "entry"  # parents are made on demand
    seen = []
    for n in range(200):
        spool.write(target, str(n).encode())
    thread = spool._thread
    spool.call(lambda: seen.append(target.read_bytes()))  # runs after every write queued before it
    spool.flush()
    assert target.read_bytes() == b"199" and seen == [b"199"]
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]
    assert spool._thread is None and not thread.is_alive()  # flush stopped the thread


def test_a_write_that_fails_is_only_a_miss(tmp_path):
    spool = Spool()
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    spool.write(blocker / "entry", b"x")  # its parent is a file: cannot be written
    spool.call(lambda: 1 / 0)  # a failing action does not stop the thread
    spool.write(tmp_path / "after", b"y")
    spool.flush()
    assert (tmp_path / "after").read_bytes() == b"y"


def test_flush_without_writes_and_twice(tmp_path):
    spool = Spool()
    spool.flush()
    spool.write(tmp_path / "a", b"1")
    spool.flush()
    spool.write(tmp_path / "b", b"2")  # a later write starts another thread
    spool.flush()
    spool.flush()
    assert (tmp_path / "a").read_bytes() == b"1" and (tmp_path / "b").read_bytes() == b"2"


def test_flush_with_a_timeout_stops_waiting_on_a_stuck_write(tmp_path):
    import threading
    import time

    spool = Spool()
    release = threading.Event()
    spool.call(release.wait)  # a write that does not end (a hung disk, a lock never released)
    spool.write(tmp_path / "after", b"x")
    stuck = spool._thread
    start = time.monotonic()
    assert spool.flush(0.2) is False  # not everything was written
    assert time.monotonic() - start < 2
    assert spool._thread is None  # a later write starts another thread
    release.set()
    spool.write(tmp_path / "later", b"y")
    assert spool.flush() is True  # the later write's thread
    assert (tmp_path / "later").read_bytes() == b"y"
    assert stuck is not None
    stuck.join(10)  # the abandoned thread writes on by itself (flush no longer waits for it)
    assert (tmp_path / "after").read_bytes() == b"x"
