"""`plan --format html` as a reviewer sees it: the page opened in headless Chromium, its highlighted cells
checked against the plan's JSON (`plan --json`), no console error, nothing fetched, hostile names escaped."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests import browser

# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
from tests.conftest import FIXTURES, REPO, copy_config, run_cli

AT = "2026-11-24"
SCREENSHOT = REPO / "build" / "screenshots" / "plan-html.png"
RANK = {"none": 0, "read": 1, "review": 2, "edit": 3}  # the form levels, lowest first (docs/format.md)


def open_page(html: str, tmp_path: Path, screenshot: Path | None = None) -> "Page":
    """The DOM after the page's script ran, and what the console printed (errors, CSP refusals)."""
    page = tmp_path / "plan.html"
    page.write_text(html)
    shown = browser.dump_dom(page)
    if screenshot is not None:
        browser.screenshot(page, screenshot, width=1400, height=1500)
        assert screenshot.stat().st_size > 10_000
    parsed = Page()
    parsed.feed(shown.dom)
    parsed.dom, parsed.console = shown.dom, shown.console
    return parsed


class Page(HTMLParser):
    """The matrices of a dumped DOM: per (environment, grant key), its cells by column."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str], dict[str, dict]] = {}
        self.stays: set[tuple[str, str]] = set()
        self.ready = False
        self.scripts = 0
        self.hrefs: list[str] = []
        self._table: dict | None = None
        self._tbody = ""
        self._row: tuple[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.ready = a.get("data-ready") == "1"
        elif tag == "script":
            self.scripts += 1
        elif tag == "a" and "href" in a:
            self.hrefs.append(a["href"])
        elif tag == "table":
            self._table = a if "matrix" in (a.get("class") or "").split() else None
        elif tag == "tbody":
            self._tbody = a.get("class") or ""
        elif tag == "tr" and self._table is not None and "data-key" in a:
            self._row = (self._table["data-env"], a["data-key"])
            if self._tbody == "changed":
                assert self._row not in self.rows, f"grant shown twice: {self._row}"
                self.rows[self._row] = {}
            else:
                self.stays.add(self._row)
                self._row = None
        elif tag == "td" and self._row is not None and "data-column" in a:
            self.rows[self._row][a["data-column"]] = {
                "kind": a["data-kind"],
                "before": a["data-before"],
                "after": a["data-after"],
            }

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "tr":
            self._row = None

    def highlighted(self) -> dict[tuple[str, str, str], str]:
        return {
            (env, key, col): cell["kind"]
            for (env, key), cells in self.rows.items()
            for col, cell in cells.items()
            if cell["kind"]
        }


def expected_cells(change: dict) -> dict[str, str]:
    """The kind of change per column, from the plan's JSON alone: forms reached by a grant added or
    revoked; a level raised or lowered (abilities lost lower, gained raise); role, sites, expiry changed."""
    before, after = change["before"], change["after"]
    out = {}
    for form in {**(before or {}).get("forms", {}), **(after or {}).get("forms", {})}:
        was = RANK[before["forms"][form]] if before else None
        now = RANK[after["forms"][form]] if after else None
        if before is None:
            kind = "added" if now else ""
        elif after is None:
            kind = "revoked" if was else ""
        elif now != was:
            kind = "raised" if now > was else "lowered"
        else:
            lost = any(form in before[a] and form not in after[a] for a in ("close_queries", "sdv"))
            gained = any(form in after[a] and form not in before[a] for a in ("close_queries", "sdv"))
            kind = "lowered" if lost else "raised" if gained else ""
        if kind:
            out[form] = kind
    if change["action"] == "update":
        for column, kind, fields in (
            ("role", "role", ("role", "base_role", "study_status")),
            ("sites", "sites", ("sites", "site_access", "countries")),
            ("expires", "expiry", ("expires",)),
        ):
            if any(before.get(f) != after.get(f) for f in fields):
                out[column] = kind
    return out


def plan_json(root: Path, env: str) -> dict:
    r = run_cli("plan", "--env", env, "--json", "--at", AT, cwd=root)
    assert r.code in (0, 2), r.err
    return json.loads(r.out)


def check_against_json(page: Page, root: Path, envs: list[str]) -> set[str]:
    """Every grant change is one matrix row whose highlighted cells are exactly the JSON's; returns the kinds seen."""
    want_rows, want_cells = set(), {}
    for env in envs:
        for change in plan_json(root, env)["changes"]:
            if change["kind"] != "grant":
                continue
            want_rows.add((env, change["key"]))
            want_cells.update({(env, change["key"], col): kind for col, kind in expected_cells(change).items()})
            cells = page.rows.get((env, change["key"]), {})
            for form in (change["before"] or change["after"])["forms"]:
                assert cells[form]["before"] == ((change["before"] or {}).get("forms") or {}).get(form, "")
                assert cells[form]["after"] == ((change["after"] or {}).get("forms") or {}).get(form, "")
    assert set(page.rows) == want_rows
    assert page.highlighted() == want_cells
    return set(want_cells.values())


def check_self_contained(html: str, page: Page) -> None:
    assert page.console == [], page.console  # no script error, no refusal by the page's own policy
    assert page.ready, "the page's script did not run to its end"
    assert page.scripts == 1 and html.count("<script") == 1
    assert "default-src 'none'" in html
    fetchable = re.compile(
        r"""\b(?:src|href|action|formaction|poster|srcset|background|data)\s*=\s*["']?\s*(?:https?:)?//""",
        re.IGNORECASE,
    )
    assert not fetchable.search(html) and not fetchable.search(page.dom)
    assert "url(" not in html and "@import" not in html
    assert all(h.startswith("#") for h in page.hrefs), page.hrefs


@pytest.fixture
def example(tmp_path):
    return copy_config(REPO, tmp_path / "example")


@pytest.mark.long  # Chromium: `make test-long`
def test_example_plan_page_matches_the_json(example, tmp_path):
    r = run_cli("plan", "--env", "test", "--env", "production", "--format", "html", "--at", AT, cwd=example)
    assert r.code == 2, r.err
    page = open_page(r.out, tmp_path)
    check_self_contained(r.out, page)
    assert check_against_json(page, example, ["test", "production"]) == {"added"}  # a first rollout adds
    for env in ("test", "production"):
        s = plan_json(example, env)["summary"]
        assert f"Plan: {s['add']} to add, {s['change']} to change, {s['revoke']} to revoke." in page.dom


def _review(root: Path) -> None:
    """After test is applied: a review that raises, lowers, revokes, adds, moves sites, sets an expiry,
    changes a role and lowers test's safety limit."""
    cardio = root / "studies/cardio-01.yaml"
    text = cardio.read_text()
    for old, new in [
        ("{user: omar.haddad, role: crc_no_contact,", "{user: omar.haddad, role: crc,"),
        (
            "{user: li.wei, role: crc, environments: all, sites: [UCSF]}",
            "{user: li.wei, role: crc, environments: all, sites: [UCSF, CHU-LYON]}",
        ),
        ("environments: all, countries: [US]}", "environments: all, countries: [US], expires: 2027-06-30}"),
        ("    - {user: claire.martin, role: crc, environments: all, sites: [CHU-LYON]}\n", ""),
        (
            "safety_monitor: {base: monitor, tags: {safety: review}}",
            "safety_monitor: {base: monitor, tags: {safety: read}}",
        ),
        (
            "    - {user: tom.hart, role: crc, environments: all, sites: [MGH]}\n",
            (
                "    - {user: tom.hart, role: crc, environments: all, sites: [MGH]}\n"
                "    - {user: ann.lee, role: crc, environments: [test], sites: [UCSF]}\n"
            ),
        ),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    cardio.write_text(text)
    env = root / "environments/test.yaml"
    env.write_text(env.read_text().replace("max_revocations: 50", "max_revocations: 40"))


@pytest.mark.long  # Chromium: `make test-long`
def test_every_kind_of_change_is_highlighted_as_the_json_says(example, tmp_path):
    assert run_cli("apply", "--env", "test", "--yes", cwd=example).code == 0
    _review(example)
    r = run_cli("plan", "--env", "test", "--env", "production", "--format", "html", "--at", AT, cwd=example)
    assert r.code == 2, r.err
    page = open_page(r.out, tmp_path, screenshot=SCREENSHOT)
    check_self_contained(r.out, page)
    assert check_against_json(page, example, ["test", "production"]) == {
        "added",
        "revoked",
        "raised",
        "lowered",
        "sites",
        "role",
        "expiry",
    }
    # the access that stays is listed (dimmed), never as a change
    applied = json.loads(run_cli("show", "--env", "test", "--json", cwd=example).out)
    changed = {key for env, key in page.rows if env == "test"}
    assert {key for env, key in page.stays} == {
        k for k, g in applied["grants"].items() if g["study"] == "CARDIO-01" and k not in changed
    }
    # the guard change comes first, with its reason
    guard = next(c for c in plan_json(example, "test")["changes"] if c["kind"] == "environment")
    section = page.dom[page.dom.index('id="env-test"') :]
    assert section.index('class="box guard"') < section.index('class="matrix"')
    assert guard["reason"] in section


@pytest.mark.long  # Chromium: `make test-long`
def test_hostile_names_are_escaped(tmp_path):
    root = copy_config(FIXTURES / "mini", tmp_path / "mini")
    staff = root / "groups/staff.yaml"
    hostile = '<script>alert(1)</script><img src=x onerror=alert(2)> "quoted" &amp;'
    staff.write_text(staff.read_text().replace("name: Cara Coordinator}", f"name: {json.dumps(hostile)}}}"))
    r = run_cli("plan", "--env", "test", "--format", "html", "--at", AT, cwd=root)
    assert r.code == 2, r.err
    assert "<script>alert" not in r.out and "<img" not in r.out and r.out.count("<script") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt; &#34;quoted&#34; &amp;amp;" in r.out
    page = open_page(r.out, tmp_path)
    check_self_contained(r.out, page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.dom  # still text once the browser has parsed it


def test_brakes_no_changes_and_saved_plans(tmp_path):
    root = copy_config(FIXTURES / "mini", tmp_path / "mini")
    assert run_cli("apply", "--env", "test", "--yes", cwd=root).code == 0
    quiet = run_cli("plan", "--env", "test", "--format", "html", "--at", AT, cwd=root)
    assert quiet.code == 0 and "No changes. The access in test matches the configuration" in quiet.out
    heart = root / "studies/heart.yaml"
    heart.write_text(
        heart.read_text().replace("    - {user: dina.dm, role: data_manager, environments: all, sites: all}\n", "")
    )
    r = run_cli("plan", "--env", "production", "--format", "html", "--at", AT, cwd=root)
    assert r.code == 2
    brakes = plan_json(root, "production")["brakes"]
    assert brakes and all(b["message"] in r.out for b in brakes)
    assert r.out.index('class="box brakes"') < r.out.index('class="matrix"')
    # a saved plan renders as the same page, with the file named
    saved = run_cli("plan", "--env", "test", "--out", "t.plan", "--at", AT, cwd=root)
    assert saved.code == 2
    shown = run_cli("show", "t.plan", "--format", "html", cwd=root)
    assert shown.code == 0 and "Saved plan t.plan (digest " in shown.out
    assert "Only the grants that change are listed" in shown.out  # no applied state at hand: said, not implied

    def keys(html):
        return re.findall(r'<tr class="grant [a-z]+" data-key="([^"]+)"', html)

    fresh = run_cli("plan", "--env", "test", "--format", "html", "--at", AT, cwd=root).out
    assert keys(shown.out) == keys(fresh) == ["HEART-01/dina.dm"]
    refused = run_cli("show", "--env", "test", "--format", "html", cwd=root)
    assert refused.code == 1 and "saved plan" in refused.err and "Traceback" not in refused.err


@pytest.mark.parametrize(
    "before, after, kind",
    [
        ({"close_queries": ["ae"], "sdv": ["ae"]}, {"close_queries": [], "sdv": ["ae"]}, "lowered"),
        ({"close_queries": [], "sdv": []}, {"close_queries": ["ae"], "sdv": []}, "raised"),
        (
            {"close_queries": ["ae"], "sdv": []},
            {"close_queries": [], "sdv": ["ae"]},
            "lowered",
        ),  # a loss is never hidden
        ({"close_queries": ["ae"], "sdv": []}, {"close_queries": ["ae"], "sdv": []}, ""),
    ],
)
def test_abilities_at_the_same_level_raise_or_lower_the_cell(before, after, kind):
    from edcconf.views.plan_html import form_cell

    grant = {"forms": {"ae": "review"}}
    change = {"action": "update", "before": {**grant, **before}, "after": {**grant, **after}}
    assert form_cell("ae", change["before"], change["after"]).kind == kind == expected_cells(change).get("ae", "")
