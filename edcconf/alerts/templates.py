"""Alert templates: the six e-mails of the REDCap Security Access Groups module (seed 004), editable.

Defaults ship in the package (`edcconf/views/templates/alerts/<kind>.txt.j2`); a configuration repository
overrides any of them with a file of the same name in `templates/alerts/`. A template is Jinja2 rendered
in a sandbox (no attribute of Python internals, no code: a template from a pull request can format text
and nothing else), with the module's placeholders written as the module writes them: `[sag-user]`,
`[sag-rights]`, `[sag-users-table]`... Each placeholder is translated into a variable before Jinja reads
the file (so a value is never read as template text). A placeholder the module does not have, or one
of another audience (`[sag-users]` in the mail to the user, `[sag-expiration-date]` outside the notices
of expiry), is an error at its file:line:col, never left in the mail as it is.

The first line of a rendered template is `Subject: ...`; the rest is the body.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jinja2 import BaseLoader, TemplateError, TemplateNotFound, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..diagnostics import Diagnostic, Loc, UserError, error, suggest
from ..fs import refuse_leaving, refuse_leaving_folder, relative_name
from ..rules import alerts as alerts_rules
from ..views.text_templates import sandboxed_text_templates

# kind -> (audience, what it is), in the order of the module's settings page
KINDS = {
    "user_alert": ("user", "to a user whose rights exceed their group's ceiling"),
    "user_reminder": ("user", "reminder to that user"),
    "rights_holders_alert": ("holders", "to the people who hold User Rights in the study"),
    "rights_holders_reminder": ("holders", "reminder to those people"),
    "user_expiration": ("user", "to the user, before their access is made to expire"),
    "rights_holders_expiration": ("holders", "to the User Rights holders, before a user's access is made to expire"),
    # qualifications (docs/qualifications.md): before a qualification a role requires expires
    "user_qualification_expiration": ("user", "to a user whose qualification, required by their role, expires soon"),
    "pi_qualification_expiration": ("holders", "to the study's PI, about a user whose qualification expires soon"),
}
QUALIFICATION_KINDS = ("user_qualification_expiration", "pi_qualification_expiration")
EXPIRATION_KINDS = ("user_expiration", "rights_holders_expiration", *QUALIFICATION_KINDS)

# placeholder -> audience ("user", "holders" or "any"), as the module documents them
PLACEHOLDERS = {
    "sag-user": "user",
    "sag-user-fullname": "user",
    "sag-user-email": "user",
    "sag-user-sag": "user",
    "sag-rights": "user",
    "sag-project-title": "any",
    "sag-users": "holders",
    "sag-user-fullnames": "holders",
    "sag-user-emails": "holders",
    "sag-user-sags": "holders",
    "sag-users-table": "holders",
    "sag-users-table-full": "holders",
    "sag-expiration-date": "any",
}
_PLACEHOLDER = re.compile(r"\[(sag-[A-Za-z0-9_-]*)\]")
PACKAGE_DIR = Path(__file__).resolve().parents[1] / "views" / "templates" / "alerts"


def override_dir(root: Path) -> Path:
    return Path(root) / "templates" / "alerts"


def template_file(root: Path, kind: str) -> tuple[Path, str]:
    """Where a kind's template is read from, and its name as the user knows it."""
    own = override_dir(root) / f"{kind}.txt.j2"
    if own.exists() or own.is_symlink():
        refuse_leaving(root, own, "read an alert template")
        return own, relative_name(root, own)
    return PACKAGE_DIR / f"{kind}.txt.j2", f"(built-in) alerts/{kind}.txt.j2"


def check_placeholders(text: str, kind: str, shown: str) -> list[Diagnostic]:
    audience = KINDS[kind][0]
    problems = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for m in _PLACEHOLDER.finditer(line):
            name = m.group(1)
            loc = Loc(shown, lineno, m.start() + 1)
            known = PLACEHOLDERS.get(name)
            if known is None:
                hint = suggest(name, PLACEHOLDERS).replace("'", "")
                hint = re.sub(r"did you mean (sag-[a-z-]+)", r"did you mean [\1]", hint)
                problems.append(
                    error(
                        alerts_rules.ALERT_PLACEHOLDER.code,
                        f"unknown placeholder [{name}]{hint}; the Security Access "
                        "Groups placeholders are " + ", ".join(f"[{p}]" for p in PLACEHOLDERS),
                        loc,
                    )
                )
            elif name == "sag-expiration-date" and kind not in EXPIRATION_KINDS:
                problems.append(
                    error(
                        alerts_rules.ALERT_PLACEHOLDER.code,
                        f"[{name}] is only available in the notices before expiry "
                        f"({', '.join(EXPIRATION_KINDS)}), not in {kind}",
                        loc,
                    )
                )
            elif known not in ("any", audience):
                mine = ", ".join(
                    f"[{p}]"
                    for p, a in PLACEHOLDERS.items()
                    if a in ("any", audience) and (p != "sag-expiration-date" or kind in EXPIRATION_KINDS)
                )
                whom = {"user": "the user", "holders": "the User Rights holders"}
                problems.append(
                    error(
                        alerts_rules.ALERT_PLACEHOLDER.code,
                        f"[{name}] belongs in the alerts to {whom[known]}; {kind} goes "
                        f"to {whom[audience]} and can use {mine}",
                        loc,
                    )
                )
    return problems


def translate(text: str) -> str:
    """`[sag-user]` -> `{{ sag["sag-user"] }}` (same line and length of line count: line numbers hold)."""
    return _PLACEHOLDER.sub(lambda m: '{{ sag["' + m.group(1) + '"] }}', text)


class _Loader(BaseLoader):
    """Only the six kinds, each from the configuration's override or the package."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get_source(self, environment, template):
        kind = template.removesuffix(".txt.j2")
        if kind not in KINDS:
            raise TemplateNotFound(template)
        path, shown = template_file(self.root, kind)
        return translate(path.read_text(encoding="utf-8")), shown, lambda: True


@dataclass
class Templates:
    root: Path
    env: ImmutableSandboxedEnvironment

    def render(self, kind: str, values: Mapping) -> tuple[str, str]:
        """(subject, body), or UserError alert-template at the line that failed."""
        name = f"{kind}.txt.j2"
        shown = template_file(self.root, kind)[1]
        try:
            text = self.env.get_template(name).render(**values)
        except TemplateSyntaxError as exc:
            raise UserError(
                f"the alert template {shown} cannot be read",
                [
                    error(
                        alerts_rules.ALERT_TEMPLATE.code,
                        exc.message or str(exc),
                        Loc(exc.filename or shown, exc.lineno),
                    )
                ],
                code=alerts_rules.ALERT_TEMPLATE.code,
            ) from None
        except TemplateError as exc:  # undefined names, the sandbox refusing an attribute or a call
            raise UserError(
                f"the alert template {shown} cannot be rendered",
                [
                    error(
                        alerts_rules.ALERT_TEMPLATE.code,
                        f"{exc.__class__.__name__}: {exc}",
                        Loc(shown, _failing_line(shown)),
                    )
                ],
                code=alerts_rules.ALERT_TEMPLATE.code,
            ) from None
        first, _, rest = text.partition("\n")
        if not first.startswith("Subject:"):
            raise UserError(
                f"the alert template {shown} has no subject",
                [
                    error(
                        alerts_rules.ALERT_TEMPLATE.code,
                        "the first line of an alert template is `Subject: ...`",
                        Loc(shown, 1),
                    )
                ],
                code=alerts_rules.ALERT_TEMPLATE.code,
            )
        return first.removeprefix("Subject:").strip(), rest.lstrip("\n")


def _failing_line(shown: str) -> int:
    """The template line a rendering error happened at (Jinja puts template frames in the traceback)."""
    tb, line = sys.exc_info()[2], 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == shown:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def load_templates(root: Path) -> Templates:
    """The six templates, checked: placeholders, Jinja syntax, and a rendering with sample values (so that
    a template error shows on every run, not only the day somebody is out of compliance)."""
    problems = check_templates(root)
    if problems:
        raise UserError("the alert templates have errors", problems, code=alerts_rules.ALERT_TEMPLATE.code)
    return Templates(root, _environment(root))


def _environment(root: Path) -> ImmutableSandboxedEnvironment:
    return sandboxed_text_templates(_Loader(Path(root)))


def check_templates(root: Path) -> list[Diagnostic]:
    """Every problem of the configuration's alert templates (and the defaults), for `validate` too."""
    root = Path(root)
    folder = override_dir(root)
    if folder.exists() or folder.is_symlink():
        refuse_leaving_folder(root, folder, "read an alert template")
    problems: list[Diagnostic] = []
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.name.endswith(".j2") and path.name.removesuffix(".txt.j2") not in KINDS:
                problems.append(
                    error(
                        alerts_rules.ALERT_TEMPLATE.code,
                        f"{path.name} is not an alert template edcconf sends; the "
                        "templates are " + ", ".join(f"{k}.txt.j2" for k in KINDS),
                        Loc(relative_name(root, path)),
                    )
                )
    env = _environment(root)
    templates = Templates(root, env)
    for kind in KINDS:
        path, shown = template_file(root, kind)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(error(alerts_rules.ALERT_TEMPLATE.code, "the template is not UTF-8 text", Loc(shown)))
            continue
        found = check_placeholders(text, kind, shown)
        problems.extend(found)
        if found:
            continue
        try:
            templates.render(kind, sample_values(kind))
        except UserError as exc:
            problems.extend(exc.diagnostics.errors)
    return problems


def sample_values(kind: str) -> dict:
    from . import placeholder_values  # local: alerts/__init__ imports this module

    user = {
        "username": "ann.example",
        "name": "Ann Example",
        "email": "ann@example.org",
        "group": "trained",
        "rights": [{"right": "data_export", "granted": "full", "allowed": "de-identified"}],
    }
    values = placeholder_values(
        kind,
        study_id="STUDY-1",
        title="Example study",
        environment="test",
        recipient={"username": "rob.holder", "name": "Rob Holder", "email": "rob@example.org"},
        users=[user],
        expiration_date="2026-12-31" if kind in EXPIRATION_KINDS else None,
    )
    if kind in QUALIFICATION_KINDS:  # what alerts.qualifications adds
        values["qualification"] = {"id": "gcp", "name": "Good Clinical Practice training", "expires": "2026-12-31"}
    return values
