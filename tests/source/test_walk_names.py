"""source.relative_name_under: the text-slicing shortcut names every path as pathlib's relative_to does."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edcconf.source import relative_name_under

segment = st.text(alphabet="abcXYZ.-_ é", min_size=1, max_size=6).filter(lambda s: s not in (".", ".."))


@pytest.mark.parametrize("root", [".", "org", "a/b", "/tmp/org", "/", "/tmp/org/"])
@given(parts=st.lists(segment, min_size=1, max_size=4))
def test_the_same_name_as_relative_to(root, parts):
    base = Path(root)
    path = base.joinpath(*parts)
    assert relative_name_under(base)(path) == path.relative_to(base).as_posix()


def test_a_path_elsewhere_or_the_root_itself_is_named_by_relative_to():
    root = Path("/tmp/org")
    name = relative_name_under(root)
    assert name(root) == root.relative_to(root).as_posix() == "."
    for outside in (Path("/tmp/organisation/x.yaml"), Path("/elsewhere/x.yaml"), Path("org/x.yaml")):
        with pytest.raises(ValueError):
            outside.relative_to(root)
        with pytest.raises(ValueError):
            name(outside)
