"""speed.incremental.Store.put_pack streams a pack into its file; a value marshal refuses leaves the pack
that was there (and no temporary file), so no base is recorded against half a pack."""

from __future__ import annotations

from edcconf.speed.incremental import Store
from edcconf.speed.spool import read_entry


def test_a_pack_is_read_back_value_by_value(tmp_path):
    store = Store(tmp_path, "test")
    values = {"a": {"x": [1, 2]}, "b": "text", "c": None}
    index = store.put_pack("ab" * 32, values)
    assert index is not None and list(index) == list(values)
    assert {k: store.get_packed("ab" * 32, where) for k, where in index.items()} == values


def test_a_value_marshal_refuses_puts_nothing_in_place(tmp_path):
    store = Store(tmp_path, "test")
    name = "cd" * 32
    before = store.put_pack(name, {"a": 1})
    assert before is not None
    assert store.put_pack(name, {"a": 2, "b": object(), "c": 3}) is None
    assert store.get_packed(name, before["a"]) == 1  # the earlier pack, whole
    assert [p.name for p in (store.dir / name[:2]).iterdir()] == [name]  # no temporary file left
    assert read_entry(store.dir / name[:2] / name) == 1
