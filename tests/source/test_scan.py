"""scan() with the identities of files hashed before: the same answer as without, a file read again
whenever its bytes may have changed, never a file reached through a link."""

from __future__ import annotations

import hashlib
import os
import time

import pytest

import edcconf.fs as fs
import edcconf.source as source
from edcconf.source import scan
from tests.conftest import FIXTURES, copy_config


@pytest.fixture
def repo(tmp_path, monkeypatch):
    root = copy_config(FIXTURES / "mini", tmp_path / "mini")
    monkeypatch.setattr(fs, "settled", lambda st: True)  # as if every file were old
    return root


@pytest.fixture
def reads(monkeypatch):
    seen: list[str] = []
    original = source.read_config

    def counting(root, path, rel, problems, check=True):
        seen.append(rel)
        return original(root, path, rel, problems, check)

    monkeypatch.setattr(source, "read_config", counting)
    return seen


def test_files_known_by_identity_are_not_read_again_and_the_answer_is_the_same(repo, reads):
    known: dict = {}
    first = scan(repo, known)
    assert first == scan(repo) and set(known) == {rel for rel, _ in first}
    reads.clear()
    assert scan(repo, known) == first and reads == []


def test_an_edit_in_place_that_keeps_size_and_modification_time_is_read_again(repo, reads):
    known: dict = {}
    first = dict(scan(repo, known))
    path = repo / "studies" / "heart.yaml"
    before = path.stat()
    text = path.read_text()
    edited = text.replace("HEART-01", "HEART-02", 1)
    assert len(edited) == len(text) and edited != text
    time.sleep(0.05)  # past the file system's clock tick: the edit gets a later change time
    path.write_text(edited)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    reads.clear()
    now = dict(scan(repo, known))
    assert reads == ["studies/heart.yaml"]
    assert now["studies/heart.yaml"] == hashlib.sha256(edited.encode()).hexdigest() != first["studies/heart.yaml"]


def test_a_file_reached_through_a_link_is_always_read(repo, reads):
    (repo / "elsewhere").mkdir()
    (repo / "elsewhere" / "extra.yaml").write_text("group: {id: extra, members: []}\n")
    (repo / "groups" / "linked.yaml").symlink_to(repo / "elsewhere" / "extra.yaml")  # inside, through a link
    known: dict = {}
    first = scan(repo, known)
    assert first is not None and "groups/linked.yaml" in dict(first) and "groups/linked.yaml" not in known
    reads.clear()
    assert scan(repo, known) == first
    assert reads == ["groups/linked.yaml"]


def test_files_not_settled_are_not_remembered(repo, monkeypatch):
    monkeypatch.setattr(fs, "settled", lambda st: False)
    known: dict = {}
    scan(repo, known)
    assert known == {}
