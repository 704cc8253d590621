"""The access report as a person sees it: the overview and the study pages opened in headless Chromium
(tests/browser.py), filters applied from the URL, every figure a chart draws checked against the JSON
written beside the pages and against what `plan` and `compliance` say, every link followed to a file."""

import json
import re
from collections import Counter
from html import unescape
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.browser import dump_dom, keep_screenshot
from tests.conftest import REPO, copy_config, run_edcconf


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = copy_config(REPO, tmp_path_factory.mktemp("ex") / "example")
    out = root / "report"
    r = run_edcconf("report", "--env", "production", "-o", str(out), "--at", "2026-11-24", cwd=root)
    assert r.code == 0, r
    return out, json.loads((out / "production.json").read_text())


@pytest.fixture(scope="module")
def applied_example(tmp_path_factory):
    """The example with test applied, then a ceiling lowered under applied access and a grant removed:
    non-compliant rights and pending changes to show."""
    root = copy_config(REPO, tmp_path_factory.mktemp("applied") / "example")
    assert run_edcconf("apply", "--env", "test", "--yes", cwd=root).code == 0
    monitors = root / "groups" / "monitors.yaml"
    monitors.write_text(monitors.read_text().replace("    form_access: review", "    form_access: read"))
    diab = root / "studies" / "diab-03.yaml"
    diab.write_text(
        "".join(
            line
            for line in diab.read_text().splitlines(keepends=True)
            if "user: kofi.mensah, role: coordinator" not in line
        )
    )
    for source, flags in (("declared", ()), ("applied", ("--applied",))):
        r = run_edcconf("report", "--env", "test", "-o", str(root / source), *flags, cwd=root)
        assert r.code == 0, r
    return root


def expected_rows(study, site="", role="", person=""):
    return sorted(
        row["user"]
        for row in study["rows"]
        if (not site or site in row["sites"])
        and (not role or row["role"] == role)
        and (not person or person in row["user"].lower() or person in row["name"].lower())
    )


def _shown_rows(dom):
    return sorted(
        m.group(1)
        for m in re.finditer(r'<tr class="grant[^"]*" data-user="([^"]+)"([^>]*)>', dom)
        if 'data-shown="1"' in m.group(2)
    )


def _study(doc, sid):
    return next(s for s in doc["studies"] if s["id"] == sid)


def _page(out: Path, env: str, sid: str) -> Path:
    return out / env / "studies" / f"{sid}.html"


@pytest.mark.long  # Chromium: `make test-long`
@pytest.mark.parametrize(
    "study,filters",
    [
        ("CARDIO-01", {}),
        ("CARDIO-01", {"site": "MGH"}),
        ("CARDIO-01", {"role": "safety_monitor"}),
        ("NEURO-02", {"site": "CHU-LYON", "role": "crc"}),
        ("ONC-04", {"person": "mona"}),
        ("CARDIO-01", {"person": "nordic"}),
    ],
)
def test_filters_and_counts_match_the_json(report, study, filters):
    out, doc = report
    fragment = "&".join(f"{k}={v}" for k, v in filters.items())
    page = dump_dom(_page(out, "production", study), fragment)
    assert page.console == []
    want = expected_rows(_study(doc, study), **filters)
    assert _shown_rows(page.dom) == want
    assert f'id="shown-total">{len(want)}<' in page.dom
    assert f'id="all-total">{len(_study(doc, study)["rows"])}<' in page.dom


@pytest.mark.long  # Chromium: `make test-long`
def test_cells_expired_and_external_people(report):
    out, doc = report
    bob = next(r for r in _study(doc, "CARDIO-01")["rows"] if r["user"] == "bob.smith")
    assert bob["external"] == "Acme CRO" and bob["forms"]["adverse_events"] == "review"
    dom = dump_dom(_page(out, "production", "CARDIO-01")).dom
    row = re.search(r'data-user="bob.smith".*?</tr>', dom, re.DOTALL).group()
    assert "badge external" in row and 'title="adverse_events: review">V<' in row
    tom = re.search(r'<tr class="grant expired" data-user="tom.hart".*?</tr>', dom, re.DOTALL)
    assert tom and "expired" in tom.group()


def _bars(dom: str, section: str) -> dict[str, int]:
    """label -> value of the bar chart under the heading with id=section."""
    part = dom.split(f'id="{section}"', 1)[1].split("<h2", 1)[0]
    return {
        unescape(m.group(1)): int(m.group(2))
        for m in re.finditer(r'<g class="bar" data-label="([^"]*)" data-value="(\d+)"', part)
    }


@pytest.mark.long  # Chromium: `make test-long`
def test_overview_charts_match_the_rows(report):
    out, doc = report
    page = dump_dom(out / "production" / "index.html")
    assert page.console == []
    dom = page.dom
    active = [(s["id"], r) for s in doc["studies"] for r in s["rows"] if r["status"] == "active"]
    assert _bars(dom, "per-site") == Counter(site for _, r in active for site in r["sites"])
    assert _bars(dom, "per-role") == Counter(r["role"] for _, r in active)
    cells = {
        (m.group(1), m.group(2))
        for m in re.finditer(
            r'<rect class="cell"[^>]*data-user="([^"]+)" '
            r'data-study="([^"]+)"',
            dom,
        )
    }
    assert cells == {(r["user"], sid) for sid, r in active}  # small: nothing left out
    assert "heatmap-note" not in dom
    expiring = [r for _, r in active if r["expires"] and "2026-11-24" <= r["expires"] <= "2027-02-22"]
    assert expiring and f'id="expiries-total">{len(expiring)}<' in dom
    days = {m.group(1): int(m.group(2)) for m in re.finditer(r'data-date="([^"]+)" data-count="(\d+)"', dom)}
    assert days == Counter(r["expires"] for r in expiring)
    assert f'id="t-grants">{len(active)}<' in dom and 'data-source="declared"' in dom and "As declared" in dom
    assert "http://" not in dom.replace("http://www.w3.org", "")  # nothing fetched
    keep_screenshot(out / "production" / "index.html", "report-overview")
    keep_screenshot(_page(out, "production", "CARDIO-01"), "report-study", height=700)


def _links(page: Path) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', page.read_text())]


def test_every_link_resolves_to_a_file(report):
    out, doc = report
    pages = [out / "production" / "index.html", *(out / "production" / "studies").glob("*.html")]
    assert len(pages) == 1 + len(doc["studies"])
    index_links = _links(pages[0])
    for s in doc["studies"]:
        assert f"studies/{s['id']}.html" in index_links  # each study name links to its page
    for page in pages + [out / "production.html"]:
        for href in _links(page):
            target = (page.parent / unquote(urlsplit(href).path)).resolve()
            assert target.is_file(), f"{page.name}: {href} leads nowhere"


@pytest.mark.long  # Chromium: `make test-long`
def test_pending_and_non_compliant_match_plan_and_compliance(applied_example):
    root = applied_example
    plan = run_edcconf("plan", "--env", "test", "--no-refresh", "--json", cwd=root)
    compliance = run_edcconf("compliance", "--env", "test", "--json", cwd=root)
    assert plan.code == 2 and compliance.code == 0, (plan, compliance)
    pairs = compliance.json["reports"]["pairs_all"]
    assert {(p["user"], p["study"]) for p in pairs} == {("mona.reyes", "CARDIO-01"), ("mona.reyes", "ONC-04")}
    for source in ("declared", "applied"):
        doc = json.loads((root / source / "test.json").read_text())
        dom = dump_dom(root / source / "test" / "index.html").dom
        assert doc["source"] == source and f'data-source="{source}"' in dom
        summary = plan.json["summary"]
        assert (
            [int(re.search(rf'id="pending-{k}">(\d+)<', dom).group(1)) for k in ("add", "change", "revoke")]
            == [summary["add"], summary["change"], summary["revoke"]]
            == [0, 1, 1]
        )
        per_study = Counter(c["key"].split("/")[0] for c in plan.json["changes"] if c["kind"] == "grant")
        stacked = {
            m.group(1): int(m.group(2)) + int(m.group(3)) + int(m.group(4))
            for m in re.finditer(
                r'<g class="bar" data-label="([^"]+)" data-add="(\d+)" data-change="(\d+)" data-revoke="(\d+)"', dom
            )
        }
        assert stacked == per_study == {"DIAB-03": 1}
        assert f'id="non-compliant-total">{len(pairs)}<' in dom
        assert _bars(dom, "non-compliant") == Counter(p["study"] for p in pairs)
    declared = json.loads((root / "declared" / "test.json").read_text())
    applied = json.loads((root / "applied" / "test.json").read_text())
    # the grant removed from the configuration is still applied: shown by --applied only
    assert "kofi.mensah" in [r["user"] for r in _study(applied, "DIAB-03")["rows"]]
    assert "kofi.mensah" not in [r["user"] for r in _study(declared, "DIAB-03")["rows"]]
    assert "As applied" in (root / "applied" / "test" / "studies" / "DIAB-03.html").read_text()


def test_overview_stays_small_at_a_small_organisation(tmp_path):
    """The overview's size grows with the number of studies only (one line each in its list); the
    charts are bounded. Bound: 100 KB, plus 200 bytes per heatmap cell (at most 60 × 40), plus 500 bytes per
    study; so at most 600 KB plus 500 bytes per study (docs/report.md)."""
    from tests.conftest import generate_org

    generate_org(tmp_path / "org", 30)
    r = run_edcconf("report", "--env", "production", "-o", str(tmp_path / "out"), cwd=tmp_path / "org")
    assert r.code == 0, r
    doc = json.loads((tmp_path / "out" / "production.json").read_text())
    hm = doc["overview"]["heatmap"]
    assert len(hm["people"]) == 60 < hm["people_total"]  # cut, and said so
    size = (tmp_path / "out" / "production" / "index.html").stat().st_size
    assert len(hm["cells"]) <= 60 * 40 and size <= 100_000 + 200 * len(hm["cells"]) + 500 * 30, size
    assert "heatmap-note" in (tmp_path / "out" / "production" / "index.html").read_text()


@pytest.mark.long  # Chromium: `make test-long`
def test_the_browser_helper_sees_a_broken_script(tmp_path):
    """The pages' "no console message" checks can fail: an uncaught error is seen."""
    page = tmp_path / "broken.html"
    page.write_text('<!doctype html><html><body><p id="p">x</p><script>missing_function();</script></body></html>')
    seen = dump_dom(page)
    assert 'id="p"' in seen.dom and any("Uncaught ReferenceError" in m for m in seen.console), seen.console


def test_one_source_at_a_time(example_repo, tmp_path):
    r = run_edcconf("report", "--env", "test", "--applied", "--live", "-o", str(tmp_path / "out"), cwd=example_repo)
    assert r.code == 1 and "--applied and --live" in r.err and not (tmp_path / "out").exists()
