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


def test_one_git_log_attributes_lines_as_git_blame_does(tmp_path):
    """source.blame_log replays one `git log -p` over the folders; on random histories (lines added, removed,
    changed, moved, lines that look like diff headers, several authors, a file changed on two branches and
    merged, a file edited after its last commit, files without a final newline, a file not asked for in the
    same folder) it gives exactly what `git blame` gives each file, or no
    answer (then blame_files asks git blame)."""
    import random

    from edcconf.source.blame_log import log_authors

    rng = random.Random(20)
    root = tmp_path
    folder = root / "reviews" / "c1"
    folder.mkdir(parents=True)
    names = [f"S{i}.yaml" for i in range(6)]
    people = ["Jane Doe", "Omar Haddad", "Paul Girard"]
    texts = {n: [f"line {n} {i}" for i in range(rng.randint(0, 6))] for n in names}
    _git(root, "init", "-q", "-b", "main")
    day = 1
    for step in range(40):
        for n in rng.sample(names, rng.randint(1, 3)):
            lines = texts[n]
            for _ in range(rng.randint(1, 4)):
                op = rng.random()
                if op < 0.45 or not lines:
                    lines.insert(
                        rng.randint(0, len(lines)),
                        rng.choice([f"  - u{rng.randint(0, 30)}", "++ x", "-- y", "@@ -1 +1 @@", "same"]),
                    )
                elif op < 0.75:
                    del lines[rng.randrange(len(lines))]
                else:
                    lines[rng.randrange(len(lines))] = f"changed {step}"
            # now and then without a final newline: git's "\\ No newline at end of file" inside a hunk
            (folder / n).write_text("\n".join(lines) + ("\n" if rng.random() < 0.7 else ""))
        day += 1
        _git(root, "add", "-A")
        _git(
            root,
            "commit",
            "-qm",
            f"step {step}",
            name=rng.choice(people),
            when=f"2026-12-{day % 28 + 1:02d}T10:00:00+0100",
        )
    # two branches change S0 and merge: not a chain for S0 (git blame answers for it)
    _git(root, "checkout", "-qb", "pr")
    (folder / "S0.yaml").write_text((folder / "S0.yaml").read_text() + "from the branch\n")
    _git(root, "commit", "-qam", "branch", name="Omar Haddad")
    _git(root, "checkout", "-q", "main")
    (folder / "S0.yaml").write_text("from main\n" + (folder / "S0.yaml").read_text())
    (folder / "S1.yaml").write_text((folder / "S1.yaml").read_text() + "main only\n")
    _git(root, "commit", "-qam", "main", name="Paul Girard")
    _git(root, "merge", "-q", "--no-edit", "pr")
    (folder / "S2.yaml").write_text((folder / "S2.yaml").read_text() + "not committed\n")  # an edit after HEAD
    rels = [f"reviews/c1/{n}" for n in names[:-1]]  # S5 is not asked for: its hunks are skipped unread
    logged = log_authors(root, rels, blame._git, blame._day)
    assert "reviews/c1/S0.yaml" not in logged and "reviews/c1/S2.yaml" not in logged
    assert {"reviews/c1/S1.yaml", "reviews/c1/S3.yaml"} <= set(logged)
    for rel in rels:
        expected = blame.line_authors(root, rel)
        if rel in logged:
            assert logged[rel] == expected, rel
    blame.use_store(None)
    assert blame.blame_files(root, rels) == {rel: blame.line_authors(root, rel) for rel in rels}
