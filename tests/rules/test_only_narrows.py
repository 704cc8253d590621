"""Which changes of a grant above its ceiling are allowed: those that give nothing new (004: expiring a
non-compliant user is the SAG module's remedy)."""

import pytest

from edcconf.rules.ceilings import only_narrows

BEFORE = {
    "role": "crc",
    "base_role": "crc",
    "sites": ["BOS", "NYC"],
    "site_access": "sites",
    "expires": "2027-01-01",
    "forms": {"f": "edit"},
}


@pytest.mark.parametrize(
    "after,narrows",
    [
        ({"expires": "2026-12-31"}, True),  # brought forward
        ({"expires": "2027-01-01"}, True),  # unchanged (nothing else either)
        ({"expires": "2027-06-30"}, False),  # extended
        ({"expires": None}, False),  # expiry removed
        ({"sites": ["BOS"]}, True),  # a site dropped
        ({"sites": ["BOS", "NYC", "LYON"]}, False),  # a site added
        ({"sites": ["BOS", "NYC"], "site_access": "all"}, False),  # all sites: any site added later comes too
        ({"role": "monitor", "base_role": "monitor"}, False),
        ({"forms": {"f": "read"}}, False),  # lower levels are a new role version: must comply
    ],
)
def test_only_narrows(after, narrows):
    assert only_narrows(BEFORE, {**BEFORE, **after}) is narrows


def test_setting_an_expiry_where_there_was_none_narrows():
    assert only_narrows({**BEFORE, "expires": None}, {**BEFORE, "expires": "2027-01-01"})
    assert not only_narrows(None, BEFORE) and not only_narrows(BEFORE, None)
