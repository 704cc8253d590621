"""`edcconf fmt`: the canonical style keeps comments and what every file means (YAML 1.1 traps included),
is idempotent on the example and on a generated organisation, `--check` writes nothing and fails on a file
out of style, and a file fmt cannot read is left alone."""

from __future__ import annotations

import os

import pytest

from edcconf.source.fmt import canonical
from tests.conftest import generate_org, run_cli


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


MESSY = """\
# yaml-language-server: $schema=../schemas/document.schema.json
sites:     # every site
    -   {id: OSLO, name: Oslo,   country: NO, timezone: Europe/Oslo}
    # Norway, not false
    -   id: "LYON"
        name: 'Lyon'
        country: FR
        opened: 2024-01-05
        version: 1.10
"""


def test_canonical_keeps_comments_quotes_and_text(tmp_path):
    out = canonical(MESSY)
    assert "# every site" in out and "  # Norway, not false" in out and out.startswith("# yaml-language-server")
    assert 'id: "LYON"' in out and "name: 'Lyon'" in out and "country: NO" in out and "version: 1.10" in out
    assert "  - {id: OSLO, name: Oslo, country: NO, timezone: Europe/Oslo}" in out
    assert canonical(out) == out
    assert not [line for line in out.splitlines() if line != line.rstrip()]


def test_fmt_then_check_on_the_example_and_meaning_kept(example_repo, cli):
    before = cli("plan", "--env", "test", "--json", cwd=example_repo)
    assert cli("fmt", cwd=example_repo).code == 0
    assert cli("fmt", "--check", cwd=example_repo).code == 0
    after = cli("plan", "--env", "test", "--json", cwd=example_repo)
    strip = lambda doc: [{k: v for k, v in c.items() if k != "source"} for c in doc["changes"]]  # noqa: E731
    assert strip(after.json) == strip(before.json)


def test_check_writes_nothing_and_names_the_files(mini_repo, cli):
    path = mini_repo / "environments" / "sites.yaml"
    path.write_text(MESSY.replace("OSLO", "OSL").replace("LYON", "LYN"))
    before = path.read_text()
    checked = cli("fmt", "--check", cwd=mini_repo)
    assert checked.code == 1 and "environments/sites.yaml" in checked.out and "fmt-check" not in checked.out
    assert path.read_text() == before
    diff = cli("fmt", "--check", "--diff", cwd=mini_repo)
    assert "--- a/environments/sites.yaml" in diff.out and path.read_text() == before
    assert cli("fmt", cwd=mini_repo).code == 0 and cli("fmt", "--check", cwd=mini_repo).code == 0


def test_a_file_that_does_not_load_is_left_alone(mini_repo, cli):
    bad = mini_repo / "studies" / "broken.yaml"
    bad.write_text("study: {id: X\n")
    result = cli("fmt", cwd=mini_repo)
    assert result.code == 1 and "fmt-unreadable" in result.err and bad.read_text() == "study: {id: X\n"


def test_a_link_inside_stays_a_link(mini_repo, cli):
    target = mini_repo / "studies" / "heart.yaml"
    target.write_text(target.read_text().replace("  sites: [BOS, NYC, LYON]", "  sites:   [BOS, NYC, LYON]"))
    (mini_repo / "studies" / "alias").mkdir()
    os.symlink(target, mini_repo / "studies" / "alias" / "heart-link.yaml")
    assert cli("fmt", cwd=mini_repo).code == 0
    assert (mini_repo / "studies" / "alias" / "heart-link.yaml").is_symlink()
    assert "  sites: [BOS, NYC, LYON]" in target.read_text()


def test_idempotent_on_a_generated_organisation(tmp_path, cli):
    root = tmp_path / "org"
    generate_org(root, 12)
    assert cli("fmt", cwd=root).code == 0
    first = {p: p.read_bytes() for p in root.rglob("*.yaml")}
    assert cli("fmt", "--check", cwd=root).code == 0
    assert cli("fmt", cwd=root).code == 0 and {p: p.read_bytes() for p in root.rglob("*.yaml")} == first


# ruamel.yaml (0.18, 0.19) writes this one wrongly: a comment after a flow mapping in a list joins the
# next item's first two keys on one line. The meaning check catches it and fmt leaves the file alone.
MISWRITTEN = """\
sites:     # every site
    -   {id: OSLO, name: Oslo,   country: NO, timezone: Europe/Oslo}   # Norway, not false
    -   id: "LYON"
        name: 'Lyon'
        country: FR
"""


def test_a_canonical_form_that_reads_differently_is_never_written(mini_repo, cli):
    path = mini_repo / "environments" / "sites.yaml"
    path.write_text(MISWRITTEN)
    result = cli("fmt", cwd=mini_repo)
    assert result.code == 1 and "fmt-changed-meaning" in result.err and path.read_text() == MISWRITTEN
