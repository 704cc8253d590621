"""The journal's and the audit log's lines: spliced shared values give exactly what json.dumps gives."""

import json
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from edcconf.state.jsonlines import AUDIT_PATHS, JOURNAL_PATHS, MIN_SPLICED, LineEncoder

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.dates())
keys = st.sampled_from(["forms", "after", "before", "change", "sites", "role", "x\x00y", "ü"])
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4), max_leaves=12
)
forms = st.dictionaries(st.text(min_size=1, max_size=6), st.sampled_from(["none", "read", "edit"]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(values, forms, st.booleans()), min_size=1, max_size=6), st.booleans())
def test_a_line_is_json_dumps_of_the_entry(parts, sort_keys):
    encoder = LineEncoder(AUDIT_PATHS + JOURNAL_PATHS + (("forms",),), sort_keys=sort_keys)
    shared = {}
    for other, levels, reuse in parts:
        levels = shared.setdefault("forms", levels) if reuse else levels  # the same dict in several entries
        entry = {
            "change": {"after": {"forms": levels, "other": other}, "before": {"forms": levels}},
            "forms": levels,
            "role": ["ref", {"forms": levels}, other],
        }
        assert encoder.encode(entry) == json.dumps(entry, sort_keys=sort_keys, default=str)
        assert json.loads(encoder.line(entry)) == json.loads(json.dumps(entry, default=str))


def test_shared_dicts_are_spliced_and_the_entry_is_left_alone():
    levels = {f"form_{i:02d}": "edit" for i in range(MIN_SPLICED)}
    entry = {"change": {"after": {"forms": levels, "when": date(2026, 1, 1)}}}
    encoder = LineEncoder(AUDIT_PATHS, sort_keys=True)
    first, second = encoder.encode(entry), encoder.encode(entry)
    assert first == second == json.dumps(entry, sort_keys=True, default=str)
    assert entry["change"]["after"]["forms"] is levels  # placeholders only in copies
