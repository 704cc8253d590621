"""Commands find the configuration from any folder inside it (as git finds .git), and never above the git
repository they are run in."""

from __future__ import annotations

from edcconf.cli.common import find_root


def test_validate_from_a_subfolder(mini_repo, cli):
    result = cli("validate", cwd=mini_repo / "studies")
    assert result.code == 0 and "1 studies" in result.out, result


def test_the_search_stops_at_the_git_repository(tmp_path, mini_repo):
    outer = mini_repo / "nested-repo" / "deep"
    outer.mkdir(parents=True)
    (mini_repo / "nested-repo" / ".git").mkdir()
    assert find_root(outer) == outer  # not the configuration above the repository
    assert find_root(mini_repo / "groups") == mini_repo
    assert find_root(mini_repo) == mini_repo
