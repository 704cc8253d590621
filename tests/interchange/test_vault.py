from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from edcconf.interchange.vault import COLUMNS, VaultUser, read_vault_users, write_vault_users
from edcconf.providers.bulk import vault_users
from edcconf.providers.files import VAULT_FILE, VAULT_MAX_ROWS, remove_stale_vault_files, study_files, vault_files
from tests.conftest import examples

from .conftest import codes_at

HEADER = ",".join(COLUMNS)


def user(**kw):
    base = dict(
        study_environment="Production",
        last_name="Bergström",
        first_name="Ingrid",
        user_name="ibergstrom",
        study_status="Enabled",
        security_profile="CDMS User",
        study_role="CRC",
        company="",
        email="ib@example.org",
        timezone="Europe/Stockholm",
        site_access=("Hôpital Pitié-Salpêtrière", "101"),
        country_access=(),
        title="",
        language="en",
        locale="en_US",
        security_policy="Basic",
    )
    base.update(kw)
    return VaultUser(**base)


def test_golden():
    got = write_vault_users(
        [
            user(),
            user(
                user_name="jdoe",
                last_name="Doe, Jr.",
                first_name="=John",
                site_access=(),
                country_access=("France",),
                study_environment="all environments",
            ),
        ]
    )
    assert got == (
        HEADER + "\r\n"
        "Production,Bergström,Ingrid,ibergstrom,Enabled,CDMS User,CRC,,ib@example.org,Europe/Stockholm,"
        '"Hôpital Pitié-Salpêtrière,101",,,en,en_US,Basic\r\n'
        'all environments,"Doe, Jr.",\'=John,jdoe,Enabled,CDMS User,CRC,,ib@example.org,Europe/Stockholm,'
        ",France,,en,en_US,Basic\r\n"
    ).encode("utf-8")
    parsed = read_vault_users(got, "v.csv")
    assert parsed.ok and parsed.rows[1].first_name == "=John" and write_vault_users(parsed.rows) == got


def test_export_last_login_is_kept_on_import_and_left_out_of_the_import_file():
    data = write_vault_users([user(last_login="2025-01-02 10:00")], last_login=True)
    assert data.splitlines()[0].endswith(b",Security Policy,Last Login")
    rows = read_vault_users(data, "v.csv").rows
    assert [r.last_login for r in rows] == ["2025-01-02 10:00"] and rows == (user(last_login="2025-01-02 10:00"),)
    assert write_vault_users(rows, last_login=True) == data
    assert write_vault_users(rows) == write_vault_users([user()])  # Vault's import ignores it: never written there
    assert read_vault_users(write_vault_users([user()]), "v.csv").rows[0].last_login == ""


def row(**cells):
    values = dict(
        zip(
            COLUMNS,
            write_vault_users([user()])
            .decode()
            .splitlines()[1]
            .replace('"Hôpital Pitié-Salpêtrière,101"', "101")
            .split(","),
        )
    )
    values.update(cells)
    return ",".join(f'"{values[c]}"' for c in COLUMNS)


def test_vault_error_names():
    cases = {
        "field-is-required": ({"Email": ""}, "Email is required"),
        "environment-does-not-exist": ({"Study Environment": "UAT"}, "Environment does not exist"),
        "invalid-email-format": ({"Email": "ib.example.org"}, "Invalid Email Format"),
        "invalid-user-name": ({"User Name": "ib(vault)"}, "Invalid User Name"),
        "invalid-timezone": ({"Timezone": "Mars/Olympus"}, "Invalid Timezone"),
        "invalid-locale": ({"Locale": "fr_FR"}, "Invalid Locale"),
        "invalid-language": ({"Language": "English", "Locale": ""}, "Invalid Language"),
        "invalid-status": ({"Study Status": "Active"}, "Invalid Status"),
        "invalid-security-profile": ({"Security Profile": "Owner"}, "Invalid Security Profile"),
        "invalid-security-policy": ({"Security Policy": "SSO"}, "Invalid Security Policy"),
        "invalid-application-role": ({"Study Role": "Admin"}, "Invalid Application Role"),
        "invalid-site": ({"Site Access": "999"}, "Invalid Site"),
        "invalid-country": ({"Country Access": "Narnia"}, "Invalid Country"),
    }
    for code, (cells, name) in cases.items():
        data = (HEADER + "\n" + row() + "\n" + row(**cells) + "\n").encode()
        parsed = read_vault_users(
            data,
            "v.csv",
            sites={"101", "102"},
            countries={"France"},
            roles={"CRC"},
            environments={"Production"},
            security_profiles={"CDMS User"},
        )
        problems = [d for d in parsed.diagnostics if d.code != "duplicate-user-record"]
        assert [(d.code, d.loc.line) for d in problems if d.code != "field-is-required" or code == d.code][:1] == [
            (code, 3)
        ], (code, parsed.diagnostics)
        first = next(d for d in problems if d.code == code)
        assert first.message.startswith(name) and dict(first.details)["vault"] in (name, "{Field} is required")
        assert len(parsed.rows) == 1


def test_inactive_cross_domain_user_is_vaults_inactive_user_error():
    data = (HEADER + "\n" + row() + "\n" + row(**{"User Name": "jdoe@other.example"}) + "\n").encode()
    parsed = read_vault_users(data, "v.csv", inactive_users={"JDoe@Other.example"})
    assert codes_at(parsed) == [("inactive-user", 3)]
    assert parsed.errors[0].message.startswith("Inactive User: jdoe@other.example")
    assert dict(parsed.errors[0].details)["vault"] == "Inactive User"
    assert [r.user_name for r in parsed.rows] == ["ibergstrom"]
    assert read_vault_users(data, "v.csv").ok  # the check runs only when the caller knows who is inactive


def test_all_sites_is_invalid_site_and_duplicates_warn():
    data = (HEADER + "\n" + row(**{"Site Access": "101,102"}) + "\n" + row() + "\n").encode()
    parsed = read_vault_users(data, "v.csv", sites={"101", "102"})
    assert codes_at(parsed) == [("duplicate-user-record", 3), ("invalid-site", 2)]
    assert "You cannot list all Sites" in parsed.errors[0].message
    assert parsed.warnings[0].message.startswith("Duplicate user record") and len(parsed.rows) == 1


def test_malformed_corpus():
    no_company = ",".join(c for c in COLUMNS if c != "Company")
    assert codes_at(read_vault_users((no_company + "\n").encode(), "v.csv")) == [("csv-missing-column", 1)]
    assert codes_at(read_vault_users((HEADER + ",Notes\n").encode(), "v.csv")) == [("csv-unknown-column", 1)]
    assert codes_at(read_vault_users((HEADER + "\n" + row()[:-8] + "\n").encode(), "v.csv")) == [("csv-malformed", 2)]
    manual = ",".join(COLUMNS[1:]) + "\n" + row().split(",", 1)[1] + "\n"
    assert read_vault_users(manual.encode(), "v.csv").rows[0].study_environment == ""


names = (
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=",@()[]\\.:;<>"), min_size=1, max_size=10
    )
    .map(str.strip)
    .filter(bool)
)
user_names = names.map(lambda n: "".join(n.split())).filter(bool)


@settings(max_examples=examples(60), deadline=None)
@given(
    st.lists(
        st.tuples(
            names, names, user_names, st.lists(names, max_size=3, unique=True), st.sampled_from(["Enabled", "Disabled"])
        ),
        max_size=4,
        unique_by=lambda t: t[2],
    )
)
def test_property_export_import_export(raw):
    rows = [
        user(last_name=a, first_name=b, user_name=c, site_access=tuple(s), study_status=st_) for a, b, c, s, st_ in raw
    ]
    first = write_vault_users(rows)
    parsed = read_vault_users(first, "p.csv")
    assert parsed.ok, parsed.diagnostics
    assert write_vault_users(parsed.rows) == first


# -- what edcconf writes: Disabled rows, parts of 1,000, accepted by its own reader ---------------------

ROLE_LABELS = {"CDMS Clinical Research Associate", "CDMS Clinical Research Coordinator", "CDMS Read Only"}


def _state(users=("ann", "bob", "cy")):
    status = {"bob": "deactivated"}
    return {
        "accounts": {
            u: {"email": f"{u}@example.org", "name": f"{u.title()} Lee", "status": status.get(u, "active")}
            for u in users
        },
        "sites": {
            "A": {"country": "US", "timezone": "America/New_York"},
            "B": {"country": "FR", "timezone": "Europe/Paris"},
            "C": {"country": "FR", "timezone": "Europe/Paris"},
        },
        "studies": {"S": {"system": "vault", "sites": ["A", "B", "C"]}},
        "roles": {},
    }


def _grant(user, role, sites, access="sites", **kw):
    return {
        "study": "S",
        "user": user,
        "role": role,
        "base_role": role,
        "sites": list(sites),
        "site_access": access,
        **kw,
    }


def _read(data):
    return read_vault_users(
        data, "v.csv", sites={"A", "B", "C"}, countries={"US", "FR"}, roles=ROLE_LABELS, environments={"test"}
    )


def test_revoked_and_withdrawn_grants_are_written_disabled_and_deactivated_accounts_never_enabled():
    state = _state()
    grants = [_grant("ann", "cra", ["A"]), _grant("bob", "crc", ["B"])]
    disabled = [
        _grant("cy", "read_only", ["B", "C"], "countries", countries=["FR"]),
        _grant("ann", "read_only", ["B"]),
    ]  # ann has current access: no second row
    rows = vault_users("test", state, grants, disabled=disabled)
    got = [(r.user_name, r.study_status, r.study_role, r.site_access, r.country_access) for r in rows]
    assert got == [
        ("ann", "Enabled", "CDMS Clinical Research Associate", ("A",), ()),
        ("bob", "Disabled", "CDMS Clinical Research Coordinator", ("B",), ()),
        ("cy", "Disabled", "CDMS Read Only", (), ("FR",)),
    ]
    state["grants"] = {f"S/{g['user']}": g for g in grants}
    data = study_files("S", "vault", "test", state, disabled=disabled)[VAULT_FILE]
    parsed = _read(data)
    assert parsed.ok and not parsed.diagnostics and parsed.rows == tuple(rows)
    assert write_vault_users(parsed.rows) == data


def test_a_disabled_row_names_only_sites_vault_still_has_and_never_all_of_them():
    state = _state()
    lost_site = _grant("ann", "crc", ["A", "D"])  # D left the study since
    now_every_site = _grant("bob", "crc", ["A", "B", "C", "D"])  # would list every site left
    rows = vault_users("test", state, [], disabled=[lost_site, now_every_site])
    assert [(r.user_name, r.site_access, r.country_access) for r in rows] == [("ann", ("A",), ()), ("bob", (), ())]
    assert _read(vault_files(rows)[VAULT_FILE]).ok


def test_more_than_1000_users_are_split_in_numbered_parts_each_accepted():
    users = [f"u{n:04d}" for n in range(2 * VAULT_MAX_ROWS + 1)]
    state = _state(users)
    rows = vault_users("test", state, [_grant(u, "cra", ["A"]) for u in reversed(users)])
    files = vault_files(rows)
    assert list(files) == ["vault-users-001.csv", "vault-users-002.csv", "vault-users-003.csv"]
    parts = [_read(data) for data in files.values()]
    assert all(p.ok for p in parts) and [len(p.rows) for p in parts] == [1000, 1000, 1]
    assert [r.user_name for p in parts for r in p.rows] == users  # in user name order across the parts
    assert list(vault_files(rows[:VAULT_MAX_ROWS])) == [VAULT_FILE]


def test_stale_vault_files_are_removed_and_nothing_else(tmp_path):
    for name in ("vault-users.csv", "vault-users-001.csv", "vault-users-003.csv", "vault-users-notes.csv", "users.csv"):
        (tmp_path / name).write_text("x")
    remove_stale_vault_files(tmp_path, {"vault-users-001.csv", "vault-users-002.csv"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.csv", "vault-users-001.csv", "vault-users-notes.csv"]


def test_export_and_csv_provider_list_every_part_and_drop_the_parts_they_no_longer_write(tmp_path):
    from edcconf.providers.csvfiles import CsvProvider
    from edcconf.providers.files import write_all

    def effective(n):
        users = [f"u{i:04d}" for i in range(n)]
        state = _state(users)
        state["grants"] = {f"S/{u}": _grant(u, "cra", ["A"]) for u in users}
        return state

    def vault_names(paths):
        return sorted(Path(p).name for p in paths if Path(p).name.startswith("vault-users"))

    parts = ["vault-users-001.csv", "vault-users-002.csv"]
    assert vault_names(write_all(tmp_path / "x", "test", effective(1001))) == parts
    assert vault_names(CsvProvider("vault", tmp_path, "p", "test", 1).finish([], effective(1001))) == parts
    for folder in (tmp_path / "x" / "S", tmp_path / "p" / "S"):
        assert sorted(p.name for p in folder.glob("vault-users*")) == parts
        assert [len(_read(folder.joinpath(name).read_bytes()).rows) for name in parts] == [1000, 1]
    assert vault_names(write_all(tmp_path / "x", "test", effective(2))) == [VAULT_FILE]
    (tmp_path / "p" / "S" / "users.csv").unlink()  # so that the provider writes the study again
    assert vault_names(CsvProvider("vault", tmp_path, "p", "test", 2).finish([], effective(2))) == [VAULT_FILE]
    for folder in (tmp_path / "x" / "S", tmp_path / "p" / "S"):
        assert sorted(p.name for p in folder.glob("vault-users*")) == [VAULT_FILE]
