"""The providers' bulk files written by a forked child while the apply journals the changes they carry out.

A first apply at N = 2,000 spent about 8 s writing 5,000 staged files (users lists, checklists, REDCap
upload files, Vault rows), then about 4 s encoding 200,000 journal lines and 3 s the audit lines, one after
the other in one process. Neither needs the files until the journal's batch is written (its first line
names the staged files), so a child stages the files from the same changes and effective state, inherited
by the fork, and sends back what finish returned and the staged files' manifest; meanwhile this process
encodes the journal lines into a file beside the journal (state.journal.FileJournal.prepare) and the
changes' part of the audit lines into another (state.audit_lines). The batch is then journaled, the files
put in place and the audit log written exactly as when all is done here.

Only when every provider's finish writes files and nothing else (`finishes_in_files`), the plan is large
(EDCCONF_BESIDE_FROM=N sets how large) and the platform forks (EDCCONF_WORKERS=1 never does). If the child
fails, its staged files are removed by its own staging and the files are written here
(apply.finish.finish_here), so a provider's error is reported as without the child. The child dies with
this process (speed.child, Linux: PR_SET_PDEATHSIG): after a kill it cannot go on writing a staged file that the next
apply stages under the same name.
"""

from __future__ import annotations

import marshal
from collections.abc import Mapping
from typing import Any

from ..fs import StagedOutputs, staged_outputs
from .child import Child
from .parse_pool import env_count, may_fork

BESIDE_MIN_CHANGES = 2_000  # below this, writing the files costs less than forking a large process


def _threshold() -> int:
    """EDCCONF_BESIDE_FROM=N: from N changes on (e.g. 1, for the kill trials), else BESIDE_MIN_CHANGES."""
    return env_count("EDCCONF_BESIDE_FROM") or BESIDE_MIN_CHANGES


class FilesBeside:
    def __init__(self, child: Child) -> None:
        self._child = child

    def take(self, staged: StagedOutputs) -> list[str] | None:
        blob = self._child.answer()
        try:
            written, files = marshal.loads(blob) if blob is not None else (None, None)
        except (EOFError, ValueError, TypeError):
            written, files = None, None
        if not isinstance(written, list) or not isinstance(files, list):
            return None
        for staged_file, target, sha in files:
            staged.files[target] = (staged_file, sha)
        return written

    def cancel(self) -> None:
        self._child.stop()  # nothing once its answer was taken


def finish_beside(providers: Mapping[str, Any], applied: list, effective: Mapping[str, Any]) -> FilesBeside | None:
    """The providers' finish started in a child, or None when it is not worth one (or not safe)."""
    if len(applied) < _threshold() or not may_fork():
        return None
    if not providers or not all(getattr(p, "finishes_in_files", False) for p in providers.values()):
        return None
    return FilesBeside(
        Child.fork(lambda: _finished(providers, applied, effective), only_the_pipe=True, dies_with_parent=True)
    )


def _finished(providers: Mapping[str, Any], applied: list, effective: Mapping[str, Any]) -> bytes:
    """In the child: the files staged; (what finish returned, the manifest), marshalled."""
    from ..apply.finish import finish_here

    with staged_outputs() as staged:  # on an error, the files staged so far are removed (then re-raised)
        written = finish_here(providers, applied, effective)
    return marshal.dumps((written, staged.manifest()))
