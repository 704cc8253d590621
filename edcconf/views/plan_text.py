"""Plan as text for a reviewer, in the manner of `terraform plan`: +, ~, - grouped by study."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import groupby

from ..plan import Change, Plan

_SIGN = {"create": "+", "reactivate": "+", "update": "~", "revoke": "-", "deactivate": "-"}
_COLOUR = {"+": "green", "~": "yellow", "-": "red"}
_VERB = {
    "create": "created",
    "reactivate": "reactivated",
    "update": "changed",
    "revoke": "revoked",
    "deactivate": "deactivated",
}


Style = Callable[..., str]


def _plain(text: str, **_: object) -> str:
    return text


def render_plan(plan: Plan, style: Style = _plain) -> str:
    return "".join(plan_chunks(plan, style))


def plan_chunks(plan: Plan, style: Style = _plain) -> Iterator[str]:
    """The plan text one section at a time (a plan of 200,000 changes is not built as one string)."""
    banner = [style(plan.partial.banner(plan.environment), fg="yellow", bold=True), ""] if plan.partial else []
    if plan.empty and plan.partial:
        yield (
            "\n".join(banner + [f"No changes in this selection (state serial {plan.serial})."] + _warnings(plan, style))
            + "\n"
        )
        return
    if plan.empty:
        unread = [w for w in plan.warnings if w.code == "drift-unchecked"]  # refresh with --allow-unread
        lines = [
            f"No changes. The access in {plan.environment} matches the configuration (state serial {plan.serial})."
            if not unread
            else f"No changes to the applied state of {plan.environment} (serial {plan.serial}); the live access "
            f"of {len(unread)} stud{'y was' if len(unread) == 1 else 'ies were'} NOT read (see the warnings), "
            "so changes made there by hand are not known."
        ] + _warnings(plan, style)
        yield "\n".join(lines) + "\n"
        return
    head = (
        f"edcconf will perform the following actions in {style(plan.environment, bold=True)} "
        f"(against state serial {plan.serial}, as of {plan.as_of.isoformat()}):"
    )
    yield "\n".join([*banner, head, "", ""])
    needed = plan.partial.needed_by if plan.partial else None
    guards = [c for c in plan.changes if c.kind == "environment"]  # first: read before what they let through
    if guards:
        yield "\n".join(_section(f"Environment {plan.environment}: protection and safety", guards, style)) + "\n"
    general = [c for c in plan.changes if not c.study and c.kind != "environment"]
    if general:
        yield "\n".join(_section("Accounts, groups and sites", general, style, needed)) + "\n"
    by_study = sorted((c for c in plan.changes if c.study), key=lambda c: c.study or "")  # (all have one)
    forms_line = _FormsLines()
    for study, changes in groupby(by_study, key=lambda c: c.study):
        yield "\n".join(_section(f"Study {study}", list(changes), style, needed, forms_line)) + "\n"
    lines = _warnings(plan, style) + _brakes(plan, style)
    s = plan.summary
    lines.append(style(f"Plan: {s['add']} to add, {s['change']} to change, {s['revoke']} to revoke.", bold=True))
    yield "\n".join(lines + banner[:1]) + "\n"


_FORMS_MEMO = 4_096  # role versions remembered at once (the changes come study by study)


class _FormsLines:
    """Each role's form levels as one line, made once: the grants of a role version share its dict (resolve's
    expand_grant), and a first apply prints 200,000 of them."""

    def __init__(self) -> None:
        self._memo: dict[int, tuple[object, str]] = {}  # id -> (the dict, kept alive; its line)

    def __call__(self, forms: dict) -> str:
        known = self._memo.get(id(forms))
        if known is None or known[0] is not forms:
            if len(self._memo) >= _FORMS_MEMO:  # dicts not shared (a saved plan read back): memory stays small
                self._memo.clear()
            known = (forms, ", ".join(f"{f} {lvl}" for f, lvl in forms.items()))
            self._memo[id(forms)] = known
        return known[1]


def _section(title: str, changes: list[Change], style: Style, needed_by=None, forms_line=None) -> list[str]:
    out = [style(f"# {title}", bold=True)]
    forms_line = forms_line or _FormsLines()
    for change in changes:
        out += _change(change, style, forms_line)
        needs = (needed_by or {}).get(f"{change.kind}.{change.key}")
        if needs:  # a partial plan's dependency: why it is here although not selected
            out.append(f"      needed by: {', '.join(needs)}")
    out.append("")
    return out


def _change(change: Change, style: Style, forms_line: _FormsLines) -> list[str]:
    sign = _SIGN[change.action]
    colour = _COLOUR[sign]
    verb = "invited" if change.invite else _VERB[change.action]
    head = f"  {style(sign, fg=colour)} {change.kind} {style(change.key, bold=True)} will be {verb}"
    out = [head, f"      why:   {change.reason}" if change.reason else "", f"      where: {change.source}"]
    value = change.after if change.after is not None else change.before
    if change.kind == "grant" and change.action in ("create", "revoke") and value:
        out.append(
            f"      role:  {value['role']} (base {value['base_role']}) at {', '.join(value['sites'])}"
            + (f", expires {value['expires']}" if value.get("expires") else "")
            + (", study status disabled" if value.get("study_status") == "disabled" else "")
        )
        out.append("      forms: " + forms_line(value["forms"]))
    if change.action == "update" and len(change.details) > 1:
        out += [f"      {style('~', fg='yellow')} {d}" for d in change.details]
    if change.notify:
        out.append(f"      notify: {', '.join(change.notify)}")
    if change.agreement_notify:
        out.append(
            f"      agreement recorded ({(change.after or {}).get('agreement_signed')}), notify: "
            f"{', '.join(change.agreement_notify)}"
        )
    return [line for line in out if line]


def _warnings(plan: Plan, style: Style) -> list[str]:
    if not plan.warnings:
        return []
    out = [style("Warnings:", fg="yellow", bold=True)]
    out += [f"  {style('!', fg='yellow')} {w.source}: {w.message} [{w.code}]" for w in plan.warnings]
    out.append("")
    return out


def _brakes(plan: Plan, style: Style) -> list[str]:
    if not plan.brakes:
        return []
    out = [style("Brakes (apply refuses this plan):", fg="red", bold=True)]
    out += [f"  {style('✋', fg='red')} {b.message} [{b.code}]" for b in plan.brakes]
    out.append("")
    return out
