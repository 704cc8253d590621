"""The benchmark's generator makes valid organisations, and the file cache never changes a plan."""

import importlib.util
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_generator():
    spec = importlib.util.spec_from_file_location("bench_generate", REPO / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen") / "org"
    stats = load_generator().generate(root, 12, seed=3, systems=["openclinica", "redcap", "vault"])
    assert stats["grants"] == 12 * 100 and stats["studies"] == 12
    return root


def test_generator_is_deterministic(tmp_path):
    gen = load_generator()
    gen.generate(tmp_path / "a", 3, seed=5, systems=["openclinica", "redcap"])
    gen.generate(tmp_path / "b", 3, seed=5, systems=["openclinica", "redcap"])
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.yaml"))
    assert files and all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)


def test_generated_organisation_validates(generated, cli):
    r = cli("validate", cwd=generated)
    assert r.code == 0, r
    assert "12 studies, 300 sites" in r.out


def test_plan_with_cache_equals_plan_without(generated, tmp_path, cli):
    root = tmp_path / "org"
    shutil.copytree(generated, root)
    args = ("plan", "--env", "test", "--json", "--at", "2026-11-24")
    without = cli(*args, cwd=root, env={"EDCCONF_NO_CACHE": "1"}).out
    cold = cli(*args, cwd=root).out  # fills the cache
    warm = cli(*args, cwd=root).out  # served from it
    assert (root / ".edcconf" / "cache" / "files").is_dir()
    assert without == cold == warm
    study = sorted((root / "studies").glob("*.yaml"))[4]
    text = study.read_text()
    i = text.rfind("environments: all")
    study.write_text(text[:i] + "environments: [production]" + text[i + len("environments: all") :])
    changed_cached = cli(*args, cwd=root).out
    changed_fresh = cli(*args, cwd=root, env={"EDCCONF_NO_CACHE": "1"}).out
    assert changed_cached == changed_fresh != warm


def test_a_damaged_cache_entry_is_a_miss(generated, tmp_path, cli):
    root = tmp_path / "org"
    shutil.copytree(generated, root)
    args = ("plan", "--env", "test", "--json", "--at", "2026-11-24")
    first = cli(*args, cwd=root).out
    for entry in (root / ".edcconf" / "cache" / "files").rglob("*"):
        if entry.is_file():
            entry.write_bytes(b"\x00garbage")
    assert cli(*args, cwd=root).out == first
