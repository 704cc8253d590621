"""The text of docs/rules.md around the rules' tables: the sections, their introductions and the prose

that explains several rules at once. The rows themselves come from the registry (book.py)."""

from __future__ import annotations

INTRO = """\
# Rule book

Every rule edcconf enforces, with its stable error code (docs/format.md), what it checks, the source document
it comes from (the systems' public documentation: 000 a hospital's REDCap external-user process, 001 OpenClinica 4 user access, 002 REDCap Access
Control Groups, 003 Veeva Vault EDC tools, 004 REDCap Security Access Groups) and an example of the
message. Errors stop a plan (exit 1); warnings are printed with the plan and in `validate`.
This file is generated from the rules' one home, their family modules in `edcconf/rules/`
(`python -m edcconf.rules.book > docs/rules.md`); `tests/validate/test_rule_book.py` fails when it is
stale, when a code is emitted but not registered, or registered but never emitted. Each rule has
bad-input and near-boundary cases in `tests/validate/`, `tests/conformance/` or the shared conformance
suite.
"""

OPENCLINICA_SECURITY = """\
001 fixes how OpenClinica 4 accounts are protected. MFA and the password rules hold for the whole
OpenClinica domain (every study, site, user, and both environments: an account spans Test and
Production), so they are declared once, in any file, under `openclinica_domain:` (the example has
`environments/openclinica.yaml`); lock-out and inactivity stay on each environment's `security:`.
OpenClinica's own values are the loosest allowed: a declaration may be stricter (as agreed with
OpenClinica, who configure the domain), never looser. Absent keys mean OpenClinica's values. Unknown
keys are `schema` errors. OpenClinica has no API for any of these: they are a record, checked here.

| setting | where | OpenClinica (001) | allowed |
|---|---|---|---|
| `mfa_required` | `openclinica_domain` | optional, enabled per domain by OpenClinica Customer Service; never per study, site, user or environment | true / false (default false) |
| `password.min_length` | `openclinica_domain` | at least 8 characters | ≥ 8 (default 8) |
| `password.character_classes` | `openclinica_domain` | at least three of lower case, upper case, numbers, special characters (`!@#$%^&*`) | 3 or 4 (default 3) |
| `password.history` | `openclinica_domain` | cannot be the previous password | ≥ 1 (default 1) |
| `password.reject_common` | `openclinica_domain` | not one of the 10,000 most common passwords | true (always) |
| `password.reject_personal_data` | `openclinica_domain` | no part of first name, last name, username, e-mail | true (always) |
| `password.expires_days` | `openclinica_domain` | no expiry named | ≥ 1, or null: never (default) |
| `security.lockout_failed_logins` | environment | locked after ten failed logins from one IP address (unlocked by OpenClinica support) | 1–10 |
| `security.inactivity_timeout_hours` | environment | logged out after four hours of inactivity | > 0 and ≤ 4 |

001 is not consistent on the character classes: its "Invite Users" page asks for three of the four
classes, its "Inviting Users" page for one of each. edcconf takes three as OpenClinica's floor and
accepts 4 as stricter.
"""

PARTICIPANT_IDS = """\
A study's `participant_id_template` is how OpenClinica 4 generates participant IDs (001, "System
generated IDs"). The rules live in `edcconf/rules/openclinica.py`. The longest ID is computed as:

| part | counts as |
|---|---|
| text outside `${...}` | its own length |
| `${siteId}` | the longest id among the study's `sites:` (edcconf's site id is OpenClinica's Site ID) |
| `${siteParticipantCount}`, `${(siteParticipantCount+k)}` | the digits of its largest value, a site being taken to have at most 9,999 participants (so `+1` gives 4 digits), or the width of its `?string[0…]` format when wider: a number longer than its format is printed in full |
| `${helper.random(n)}` | n digits, or the width of its format when wider |

So `${siteId}-${(siteParticipantCount+1)?string[000]}` with sites `MGH` and `CHU-LYON` gives IDs of up
to 8 + 1 + 4 = 13 characters. An ID over 30 characters is `participant-id-too-long`.
"""

CEILINGS_AT_ASSIGNMENT = """\
REDCap checks a user's rights against their Access Control Group (002) or Security Access Group (004)
when the user is added to a project and whenever their rights are saved, never retroactively: lowering a
ceiling, or moving a person to a group with a lower one, leaves the rights they already have in place, to
be found by the compliance reports. edcconf does the same, and `plan` is where it is decided, because only
the plan knows the last applied state:

- a grant the plan **creates**, or **updates** for any reason (role, sites, form levels, rights, expiry,
  a redefinition of its role, or restoring access changed in REDCap by hand), must be within the person's
  current ceiling: otherwise `ceiling-exceeded` and the plan exits 1. A later expiry, or none, counts:
  REDCap re-checks every right on any save of a user's rights. A change that only **narrows** the grant (an
  expiry set or brought forward, sites dropped; role, form levels and rights unchanged) is allowed and
  keeps the warning: expiring a non-compliant user is the SAG module's own remedy (004);
- an applied grant above the ceiling that the plan does not change is **kept**: the plan goes on (exit 2
  when it has other changes, 0 otherwise), warns `ceiling-noncompliant` naming the grant and the rights
  above the ceiling, and `edcconf compliance` lists it. Revoking it, or changing it to comply, is always
  allowed (the SAG module lets an administrator expire a non-compliant user);
- `validate` plans nothing, so it reads each environment's state: a grant above its ceiling that is applied
  exactly as declared is the same `ceiling-noncompliant` warning (naming the environment), any other is
  `ceiling-exceeded` naming the environments where it would be added or changed (an environment never
  applied has no state, so its grants are all added). Where a state cannot be read, `ceiling-unverified`
  says that the plan will refuse the grant unless it was applied unchanged: validate never says "valid"
  of a grant that plan then refuses without saying so.

`explain`, `who-can`, `report` and the other commands that read the configuration show grants above a
ceiling (explain marks them `EXCEEDED`) rather than refusing to answer.
"""

IMPLICIT_ACCESS = """\
- **Admins see every study** (001: the Admin user type "can see all studies" of test and production and
  "can assign him/herself access to any study"). Each study in the effective state lists its `admins`
  (active, not expired); `explain ADMIN` shows every study of every environment with `"implicit": "admin"`
  (text: `IMPLICIT access`), beside any grant they hold, and `who-can` lists admins for every study it
  answers about, once per study and environment where no grant lists them already, with
  `"implicit": "admin"` (text: `IMPLICIT (admin)`; CSV column `implicit`). Access tests (`edcconf test`)
  compare declared grants only. `too-many-admins` (above) keeps the number small.
- **Creating projects needs full User Rights** (002: a user whose Access Control Group does not allow
  Full Access User Rights cannot create or copy projects). `explain` shows `abilities.create_projects`
  (`value`, `reason`, and the group's `source`) from the person's group ceiling (generic `user_rights:
  full` and the REDCap key `user_rights` 1); `who-can create-projects` lists the people who may and, under
  `cannot`, those who may not, with the reason.
"""

COMPLIANCE_REPORTS = """\
`edcconf compliance --env E` gives the six reports of 002 and 004 (users, studies, user-study pairs; each
without and with expired users) over the applied state, or with `--live` over what REDCap holds now:

- filters as the ACG report tables have them (002): `--user`, `--group`, `--study`, `--right` (a right by
  its name, `form_access` or `redcap.design`, or by the REDCap key alone, `design`), each repeatable; a
  pair passes when any of its rights above the ceiling matches, and keeps all of them listed;
- CSV of any report (`--format csv --report NAME`) or of all six (`--out DIR` writes
  `compliance-E-NAME.csv`), as the ACG reports are exported (002);
- each study's status as the SAG module's project status page shows it (004), in `studies` (JSON) and
  `Study status` (text): `compliant`, `non-compliant` (a user who is not expired there is above their
  ceiling) or `expired users only` (everyone above their ceiling is expired there); the status is computed
  over all users whatever the filters; the `studies_*` report rows carry it as `compliance`;
- users the configuration does not declare (found live, or still in the applied state) are reported as
  undeclared (`"undeclared": true` on their rows, and all of them in `undeclared`, within the ceiling or
  not), judged against REDCap's default group (`default: true`, else `no-rights`, 002), and expired only
  when their grant's expiry (REDCap's expiration date, live) has passed.
"""

LIVE_READS = """\
`drift`, `compliance --live`, `report --live` and `plan` (its refresh, when the environment has a `redcap`
target) read each study's access from its system. A study ends up in one of three states:

- **read**: compared (drift), reported from what the system holds (compliance), restored (plan).
- **not checked**, by design: its target cannot read live access (a `csv` target writes files for an
  administrator). Listed as `not checked`; never an error. `drift` in an environment where no target
  reads says that nothing could be checked live (exit 0, never "No drift"); `compliance --live` there
  refuses (`no-live-read`), as there is nothing live to report.
- **unread**: its target reads live access but this read failed (token variable unset or not a token,
  REDCap unreachable or refusing, a target without `url:`). Its access is unknown, so the command exits 1
  (`live-unread`), naming each unread study and why. `--allow-unread` goes on: each unread study is a
  warning (stderr; a `drift-unchecked` warning in a plan) and is listed as `NOT read`; the text says "No
  drift" only of the studies read ("No drift in the 2 studies read live in test …; 1 study NOT read:
  DIAB-04"), and a plan with no changes says that live access was not read rather than that it matches.

In `--json`: `drift` keeps `checked` (studies read) and `unchecked` (`{what, reason}`: every study not
read, for either reason, as before) and adds `unread` (`{study, reason}`: the subset of `unchecked`
whose target should have read it). `compliance --live --json` has `checked`, `unchecked` and `unread`
(`{study, reason}` each) the same way; a study not read is reported from its applied access. A plan's
unread studies are its `drift-unchecked` warnings, with `details: {study, reason}`. The refusal itself,
with `--json`, is an `errors` list of `live-unread` entries with the same `details`.
`report --live --allow-unread` marks each study not read (unread, or not checked) on its page and in the
overview, shows no access for it (unknown, not empty) and gives it `"live": "unread"` or `"unchecked"` with
`live_reason` in the JSON ([report.md](report.md#sources)).
"""

IMPORTS = """\
`edcconf import` reads each file completely and reports every problem with its file and row (the
line the record starts on, header = 1); nothing is written when a file has an error.
"""

ALERTS = """\
`edcconf compliance alert` renders the alert e-mails of the REDCap Security Access Groups module (004)
from templates: the package's defaults, or the configuration's own `templates/alerts/<kind>.txt.j2`.
`validate` checks the configuration's templates too, so that a broken one fails the pull request that
brings it, not the day somebody is out of compliance.
"""

TIME = """\
Expiry and deactivation are not errors: a grant whose person or own `expires:` date has passed, or whose
person is `status: deactivated`, is left out of the effective state and revoked by the next plan with the
reason (`expired on 2026-01-31`, `dina.dm is deactivated`). `plan --at YYYY-MM-DD` judges expiry on
another date, so "what expires next month" is one command. Apply judges expiry as of today: a plan saved
with `--at` another day is refused by `apply FILE` (`plan-date`) unless `--allow-other-date` is given for
an unprotected environment, and `apply` has no `--at`.
"""

REFUSALS = """\
Not rules of the configuration, but stable codes of commands that refuse (exit 1; Ctrl-C ends any command
with `Interrupted.` and exit 130, never a traceback):
"""

QUALIFICATIONS = """\
People hold qualifications until a date (GCP training, a study's own training, the External User
Agreement), and roles require them: every grant of a base role named in a qualification's `base_roles`
(or of a custom role derived from one), plus a custom role's own `requires:`. Like a ceiling, the
requirement is enforced at assignment: `plan` refuses to add a grant for a person who lacks one. Unlike a
ceiling, an applied grant is not kept once its qualification lapses: it is suspended (revoked) after
the qualification's last valid day, and `plan --at DAY` shows it ahead ([qualifications](qualifications.md)).
"""
