"""Test processes read this checkout's schemas (edcconf.schemas), as they run its code.

The editable install maps edcconf.schemas to the schemas/ of the checkout it was made from; a git
worktree's tests would silently validate against another checkout's schemas. tests/conftest.py runs this
file in process and puts its folder on the PYTHONPATH of the CLI subprocesses, where Python runs it at start.
"""

import importlib.abc
import importlib.util
import sys
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


class _ThisCheckoutsSchemas(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "edcconf.schemas":
            return None
        return importlib.util.spec_from_file_location(
            fullname, SCHEMAS / "__init__.py", submodule_search_locations=[str(SCHEMAS)]
        )


if not any(isinstance(f, _ThisCheckoutsSchemas) or type(f).__name__ == "_ThisCheckoutsSchemas" for f in sys.meta_path):
    sys.meta_path.insert(0, _ThisCheckoutsSchemas())
