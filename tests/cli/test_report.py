"""The access matrix as a person sees it: opened in headless Chromium, filters applied from the URL,
the visible counts and cells checked against the JSON written beside the page."""
import json
import os
import re
import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from tests.conftest import REPO, copy_config, run_edcconf
    root = copy_config(REPO, tmp_path_factory.mktemp("ex") / "example")
    out = root / "report"
    r = run_edcconf("report", "--env", "production", "-o", str(out), "--at", "2026-11-24", cwd=root)
    assert r.code == 0, r
    return out, json.loads((out / "production.json").read_text())


def expected_rows(doc, site="", role="", person=""):
    rows = []
    for study in doc["studies"]:
        for row in study["rows"]:
            if site and site not in row["sites"]:
                continue
            if role and row["role"] != role:
                continue
            if person and person not in row["user"].lower() and person not in row["name"].lower():
                continue
            rows.append((study["id"], row["user"]))
    return rows


def dump(page, fragment, profile):
    if not CHROMIUM:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium must be installed under CI=true (.ci/run installs it)")
        pytest.skip("chromium is not installed")
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", f"{page.as_uri()}#{fragment}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-1000:]
    return proc.stdout


def _shown_rows(dom):
    rows, study = [], None
    for m in re.finditer(r'<section data-study="([^"]+)">|<tr class="grant[^"]*" data-user="([^"]+)"([^>]*)>', dom):
        if m.group(1):
            study = m.group(1)
        elif 'data-shown="1"' in m.group(3):
            rows.append((study, m.group(2)))
    return rows


@pytest.mark.parametrize("filters", [{}, {"site": "MGH"}, {"role": "safety_monitor"}, {"site": "CHU-LYON", "role": "crc"},
                                     {"person": "mona"}, {"person": "nordic"}])
def test_filters_and_counts_match_the_json(report, tmp_path, filters):
    out, doc = report
    fragment = "&".join(f"{k}={v}" for k, v in filters.items())
    dom = dump(out / "production.html", fragment, tmp_path / "profile")
    want = expected_rows(doc, filters.get("site", ""), filters.get("role", ""), filters.get("person", ""))
    assert sorted(_shown_rows(dom)) == sorted(want)
    assert f'id="shown-total">{len(want)}<' in dom
    assert f'id="all-total">{sum(len(s["rows"]) for s in doc["studies"])}<' in dom


def test_cells_expired_and_external_people(report, tmp_path):
    out, doc = report
    dom = dump(out / "production.html", "", tmp_path / "profile")
    cardio = next(s for s in doc["studies"] if s["id"] == "CARDIO-01")
    bob = next(r for r in cardio["rows"] if r["user"] == "bob.smith")
    assert bob["external"] == "Acme CRO" and bob["forms"]["adverse_events"] == "review"
    row = re.search(r'data-user="bob.smith".*?</tr>', dom, re.S).group()
    assert 'badge external' in row and 'title="adverse_events: review">V<' in row
    tom = re.search(r'<tr class="grant expired" data-user="tom.hart".*?</tr>', dom, re.S)
    assert tom and "expired" in tom.group()
    assert "http://" not in (out / "production.html").read_text().replace("http://www.w3.org", "")  # no network
