"""No path leaves the configuration directory through a symbolic link (unsafe-path), and no declaration
file is parsed above the size limit (file-too-large): every refusal is exit 1 with the link's or file's
own path, never a traceback, never the foreign file's content, and nothing written outside."""
import json
import os
from pathlib import Path

import pytest

from edcconf.source import MAX_FILE_BYTES, config_files, load_sources
from tests.conftest import run_inprocess as run, write

AT = ["--at", "2026-11-24"]
PASSWD = [line for line in Path("/etc/passwd").read_text().splitlines() if line.strip()]


def tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture
def outside(tmp_path):
    """A directory beside the repository that must stay exactly as it is."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "keep.txt").write_text("untouched\n")
    return folder


# -- reading --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["validate"], ["validate", "--json"], ["validate", "--format", "github"],
                                  ["plan", "--env", "test"], ["plan", "--env", "test", "--json"],
                                  ["plan", "--env", "test", "--format", "markdown"]])
def test_a_yaml_link_to_etc_passwd_is_refused_and_never_echoed(mini_repo, args):
    (mini_repo / "groups/x.yaml").symlink_to("/etc/passwd")
    code, out, err = run(mini_repo, *args)
    assert code == 1 and "Traceback" not in out + err
    assert "groups/x.yaml" in out + err and "unsafe-path" in out + err
    for line in PASSWD:
        assert line not in out + err
    if args == ["validate"]:
        assert "groups/x.yaml: error[unsafe-path]: groups/x.yaml is a symbolic link" in err


def test_a_link_to_a_valid_file_outside_is_not_loaded(mini_repo, outside):
    (outside / "extra.yaml").write_text("group:\n  id: extra\n  ceiling: {form_access: edit}\n"
                                        "  members:\n    - {username: eve.x, email: eve@x.org, name: Eve}\n")
    (mini_repo / "groups/extra.yaml").symlink_to(outside / "extra.yaml")
    sources = load_sources(mini_repo, use_cache=False)
    assert "groups/extra.yaml" not in {f.path for f in sources.files}
    assert [(d.code, d.loc.file) for d in sources.diagnostics] == [("unsafe-path", "groups/extra.yaml")]
    code, out, err = run(mini_repo, "validate", "--json")
    assert code == 1 and [e["code"] for e in json.loads(out)["errors"]] == ["unsafe-path"]


def test_a_relative_link_climbing_out_and_a_linked_config_directory_are_refused(mini_repo, outside):
    (outside / "s.yaml").write_text("study: {id: S}\n")
    (mini_repo / "studies/up.yaml").symlink_to(Path("..") / ".." / "outside" / "s.yaml")
    (mini_repo / "groups").rename(mini_repo / "groups-real")
    (mini_repo / "groups").symlink_to(outside)
    got = {(d.code, d.loc.file) for d in load_sources(mini_repo, use_cache=False).diagnostics}
    assert got == {("unsafe-path", "studies/up.yaml"), ("unsafe-path", "groups")}


def test_links_inside_are_followed_and_each_file_read_once(mini_repo):
    write(mini_repo, "shared/extra.yaml", "group:\n  id: extra\n  ceiling: {form_access: read}\n")
    (mini_repo / "groups/extra.yaml").symlink_to("../shared/extra.yaml")
    (mini_repo / "studies/heart-again.yaml").symlink_to("heart.yaml")      # the same file: read once
    (mini_repo / "groups/studies-too").symlink_to("../studies")           # a directory already read
    (mini_repo / "studies/loop").symlink_to(".")                          # a loop of directories
    rels = [p.relative_to(mini_repo).as_posix() for p in config_files(mini_repo)]
    assert rels == ["environments/envs.yaml", "groups/extra.yaml", "groups/staff.yaml", "studies/heart.yaml"]
    code, out, err = run(mini_repo, "validate")
    assert code == 0, err


def test_a_file_reached_only_through_a_linked_directory_is_read_under_the_link(mini_repo):
    write(mini_repo, "shared/groups/extra.yaml", "group:\n  id: extra\n  ceiling: {form_access: read}\n")
    (mini_repo / "groups/shared").symlink_to("../shared/groups")
    assert "groups/shared/extra.yaml" in [p.relative_to(mini_repo).as_posix() for p in config_files(mini_repo)]


def test_an_access_test_file_linked_outside_is_refused(mini_repo):
    (mini_repo / "tests/access").mkdir(parents=True)
    (mini_repo / "tests/access/x.yaml").symlink_to("/etc/passwd")
    code, out, err = run(mini_repo, "test")
    assert code == 1 and "Traceback" not in out + err
    assert "tests/access/x.yaml" in err and "unsafe-path" in err
    for line in PASSWD:
        assert line not in out + err


# -- size -----------------------------------------------------------------------------------------------

def test_a_file_over_the_limit_is_refused_before_it_is_parsed(mini_repo, monkeypatch):
    import edcconf.source.parse_pool as pool

    big = mini_repo / "groups/big.yaml"
    with open(big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)   # sparse: instant to make
    parsed = []
    real_parse_all = pool.parse_all
    monkeypatch.setattr("edcconf.source.parse_all",
                        lambda jobs, *a: (parsed.extend(rel for rel, *_ in jobs), real_parse_all(jobs, *a))[1])
    sources = load_sources(mini_repo, use_cache=False)
    assert [(d.code, d.loc.file) for d in sources.diagnostics] == [("file-too-large", "groups/big.yaml")]
    assert f"{MAX_FILE_BYTES + 1:,} bytes" in sources.diagnostics[0].message
    assert "groups/big.yaml" not in parsed
    code, out, err = run(mini_repo, "validate")
    assert code == 1 and "groups/big.yaml: error[file-too-large]" in err and "Traceback" not in err


def test_the_limit_is_ten_mebibytes():
    assert MAX_FILE_BYTES == 10 * 1024 * 1024


def test_a_fifo_is_not_waited_on(mini_repo):
    os.mkfifo(mini_repo / "groups/pipe.yaml")
    sources = load_sources(mini_repo, use_cache=False, rels=["groups/pipe.yaml"])
    assert [d.code for d in sources.diagnostics] == ["yaml-syntax"]
    assert "not a regular file" in sources.diagnostics[0].message
