"""OpenClinica invitations (001) are computed from the plan alone: a grant created for an account the plan
does not create is an invitation; only in OpenClinica studies; marking twice changes nothing."""

from edcconf.plan.diff import invitations
from edcconf.plan.model import Change


def grant(study, user, action="create"):
    after = {"study": study, "user": user, "role": "crc"} if action != "revoke" else None
    return Change(action, "grant", f"{study}/{user}", None, after, "granted crc at BOS", "s.yaml:1", study=study)


SYSTEMS = {"OC": "openclinica", "RC": "redcap"}


def test_only_existing_accounts_in_openclinica_studies_are_invited():
    changes = [
        Change("create", "account", "new.one", None, {"status": "active"}, "new account", "g.yaml:1"),
        grant("OC", "new.one"),
        grant("OC", "old.one"),
        grant("RC", "old.one"),
        grant("OC", "old.two", "update"),
    ]
    marked = {c.key: c.invite for c in invitations(changes, SYSTEMS) if c.kind == "grant"}
    assert marked == {"OC/new.one": False, "OC/old.one": True, "RC/old.one": False, "OC/old.two": False}


def test_marking_is_idempotent_and_says_why():
    once = invitations([grant("OC", "old.one")], SYSTEMS)
    twice = invitations(once, SYSTEMS)
    assert once == twice
    assert once[0].reason == "granted crc at BOS (invite: old.one has an account already)"
    assert once[0].to_json()["invite"] is True and once[0].to_json()["action"] == "create"
