"""source.blame: who wrote each line, from git; the store (edcconf.speed's cache) never answers for a file
whose bytes or last commit changed (an edit committed as it was is attributed once committed)."""

from __future__ import annotations

import os
import subprocess
from datetime import date
from pathlib import Path

from edcconf.source import blame
from edcconf.speed.file_cache import BlameCache


def _git(root: Path, *args: str, name: str = "Jane Doe", when: str = "2026-12-02T23:30:00-0500") -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": "jane@x.org",
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": "jane@x.org",
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_DATE": when,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def test_outside_git_every_line_is_uncommitted(tmp_path):
    (tmp_path / "reviews").mkdir()
    (tmp_path / "reviews" / "a.yaml").write_text("a: 1\n")
    assert blame.blame_files(tmp_path, ["reviews/a.yaml"]) == {"reviews/a.yaml": {}}


def test_lines_are_attributed_once_committed_with_and_without_the_store(tmp_path):
    root = tmp_path
    (root / "reviews").mkdir()
    path = root / "reviews" / "a.yaml"
    path.write_text("x: 1\n")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "one", name="Admin")
    previous = blame._store
    try:
        for store in (None, BlameCache()):
            blame.use_store(store)
            path.write_text("x: 1\nconfirmed: [a]\n")
            got = blame.blame_files(root, ["reviews/a.yaml"])["reviews/a.yaml"]
            assert got[1].author == "Admin" and got[2] is blame.UNCOMMITTED
            _git(root, "commit", "-qam", "decide")
            got = blame.blame_files(root, ["reviews/a.yaml"])["reviews/a.yaml"]
            assert got[2].author == "Jane Doe" and got[2].email == "jane@x.org" and len(got[2].commit or "") == 40
            assert got[2].when == date(2026, 12, 2)  # the author's own day (UTC-5), not UTC's
            again = blame.blame_files(root, ["reviews/a.yaml"])["reviews/a.yaml"]
            assert again == got
            _git(root, "reset", "-q", "--hard", "HEAD~1")
    finally:
        blame.use_store(previous)


def test_parse_porcelain():
    sha = "a" * 40
    text = (
        f"{sha} 1 1 2\nauthor Jane Doe\nauthor-mail <jane@x.org>\nauthor-time 1764633600\nauthor-tz +0100\n"
        "summary s\nfilename f\n\tline one\n"
        f"{sha} 2 2\n\tline two\n"
        f"{'0' * 40} 3 3 1\nauthor Not Committed Yet\nauthor-mail <not.committed.yet>\nauthor-time 1\n"
        "author-tz +0000\nsummary x\nfilename f\n\tline three\n"
    )
    got = blame.parse_porcelain(text)
    assert got[1] is got[2] and got[1].author == "Jane Doe" and got[1].commit == sha
    assert got[3] is blame.UNCOMMITTED


def test_a_shallow_clone_names_nobody_for_lines_beyond_its_history(tmp_path):
    origin = tmp_path / "origin"
    (origin / "reviews").mkdir(parents=True)
    path = origin / "reviews" / "a.yaml"
    path.write_text("x: 1\n")
    _git(origin, "init", "-q")
    _git(origin, "add", "-A")
    _git(origin, "commit", "-qm", "one", name="Admin")
    path.write_text("x: 1\nconfirmed: [a]\n")
    _git(origin, "commit", "-qam", "decide")
    for depth, first, second in (("1", blame.SHALLOW, blame.SHALLOW), ("2", blame.SHALLOW, "Jane Doe")):
        clone = tmp_path / f"clone{depth}"
        _git(tmp_path, "clone", "-q", "--depth", depth, f"file://{origin}", str(clone))
        got = blame.blame_files(clone, ["reviews/a.yaml"])["reviews/a.yaml"]
        assert got[1] is first
        assert (got[2] if second is blame.SHALLOW else got[2].author) == second
        assert not got[1].committed  # counts as pending, warned about (review-unattributed)
