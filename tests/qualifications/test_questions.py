"""explain shows a grant's qualification chain (required where, held until when, or lacking and why);
who-can --qualification keeps only the people who hold it valid on the as-of date. On the example."""

from __future__ import annotations


def _entries(doc: dict, env: str) -> list[dict]:
    return next(e["studies"] for e in doc["environments"] if e["environment"] == env)


def test_explain_shows_the_default_and_the_custom_roles_requirements(example_repo, cli):
    r = cli("explain", "omar.haddad", "--study", "CARDIO-01", "--env", "test", "--json", cwd=example_repo)
    assert r.code == 0, r
    (entry,) = _entries(r.json, "test")
    chain = {q["qualification"]: q for q in entry["qualifications"]}
    assert chain["gcp"]["required_by"] == "the defaults of openclinica base role crc"
    assert chain["gcp"]["source"] == "environments/qualifications.yaml:5"
    assert chain["gcp"]["held"]["expires"] == "2028-03-03" and chain["gcp"]["valid"]
    assert chain["gcp"]["held"]["source"] == "groups/study-staff.yaml:16"  # omar.haddad's own entry
    assert chain["cardio-training"]["required_by"] == "role crc_no_contact of CARDIO-01"
    assert chain["cardio-training"]["source"].startswith("studies/cardio-01.yaml:18")
    assert chain["cardio-training"]["held"] == {
        "completed": "2025-01-10",
        "expires": None,
        "source": chain["cardio-training"]["held"]["source"],
    }
    text = cli("explain", "omar.haddad", "--study", "CARDIO-01", "--env", "test", cwd=example_repo).out
    assert "requires cardio-training (CARDIO-01 protocol training) ← role crc_no_contact of CARDIO-01" in text
    assert ": held, does not expire" in text


def test_explain_shows_a_suspended_grant_and_what_lapsed(example_repo, cli):
    r = cli(
        "explain", "li.wei", "--study", "CARDIO-01", "--env", "test", "--at", "2027-10-01", "--json", cwd=example_repo
    )
    assert r.code == 0, r
    entry, other = _entries(r.json, "test")  # other: li.wei's monitor grant, production only (no chain)
    assert "qualifications" not in other and other["reason"].startswith("not granted in test")
    assert not entry["access"] and entry["reason"] == "suspended: li.wei's gcp expired on 2027-09-30"
    (gcp,) = entry["qualifications"]
    assert not gcp["valid"] and gcp["lacking"] == "expired on 2027-09-30"
    text = cli("explain", "li.wei", "--study", "CARDIO-01", "--env", "test", "--at", "2027-10-01", cwd=example_repo).out
    assert "LACKING: expired on 2027-09-30" in text


def test_who_can_keeps_only_the_holders(example_repo, cli):
    base = ("who-can", "edit", "vitals", "--study", "CARDIO-01", "--env", "production")
    everyone = {p["user"] for p in cli(*base, "--json", cwd=example_repo).json["people"]}
    trained = cli(*base, "--qualification", "cardio-training", "--json", cwd=example_repo).json
    assert trained["qualification"] == "cardio-training"
    assert {p["user"] for p in trained["people"]} == {"omar.haddad"} < everyone
    # li.wei's gcp is valid through 2027-09-30: kept on that day, left out the day after
    on = cli(*base, "--qualification", "gcp", "--at", "2027-09-30", "--json", cwd=example_repo).json
    assert "li.wei" in {p["user"] for p in on["people"]}
    text = cli(*base, "--qualification", "gcp", "--at", "2027-09-30", cwd=example_repo).out
    assert "Only people who hold gcp, valid on 2027-09-30." in text
    wrong = cli(*base, "--qualification", "gpc", cwd=example_repo)
    assert wrong.code == 1 and "unknown qualification 'gpc'; did you mean 'gcp'?" in wrong.err
