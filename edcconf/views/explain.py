"""`explain USER` as text: grant → role → rule → ceiling, each with its file:line (the document is
questions.explain's)."""

from __future__ import annotations


def render_explain(doc: dict) -> str:
    p = doc["person"]
    email = f" <{p['email']}>" if p["email"] else " (no e-mail)"
    lines = [
        f"{doc['user']} — {p['name']}{email}, {p['type']}, {p['status']}, group {p['group']}"
        + (f", external ({p['external']})" if p["external"] else "")
        + (f", expires {p['expires']}" if p["expires"] else "")
        + f"  [{p['source']}]",
        f"as of {doc['as_of']}",
    ]
    for name, ability in doc.get("abilities", {}).items():
        lines.append(
            f"{name.replace('_', ' ')}: {'yes' if ability['value'] else 'no'} — {ability['reason']}"
            + (f"  [{ability['source']}]" if ability.get("source") else "")
        )
    lines.append("")
    if not doc["environments"]:
        lines.append("No access anywhere: not granted in any study.")
    for env in doc["environments"]:
        lines.append(f"In {env['environment']}:")
        if env.get("vault_last_login"):
            seen = env["vault_last_login"]
            lines.append(
                f"  Vault last login {seen['value']} (Vault's export of {seen['study']}, kept by state import"
                + (f"  [{seen['source']}])" if seen.get("source") else ")")
            )
        for entry in env["studies"]:
            where = f"  [{entry['source']}]" if entry.get("source") else ""
            if not entry["access"] and entry.get("implicit"):
                lines.append(f"  {entry['study']}: IMPLICIT access — {entry['reason']}{where}")
                continue
            if not entry["access"]:
                lines.append(f"  {entry['study']}: no access — {entry['reason']}{where}")
                lines.extend(_qualifications(entry))
                continue
            g = entry["grant"]
            role = g["role"] + (
                f" (custom role at {g['role_source']}, from base role {g['base_role']})"
                if g["role_source"]
                else f" (base role {g['base_role_label']})"
            )
            lines.append(
                f"  {entry['study']}: granted at {g['source']} → role {role}"
                + ("; and IMPLICIT access as an admin" if entry.get("implicit") else "")
            )
            lines.append(f"    sites {', '.join(g['sites'])}" + (f", expires {g['expires']}" if g["expires"] else ""))
            for f in entry["forms"]:
                extras = ", ".join(x for x, on in (("closes queries", f["close_queries"]), ("SDV", f["sdv"])) if on)
                lines.append(
                    f"    {f['form']:<20} {f['level']:<7} ← {f['rule']}  [{f['source']}]"
                    + (f" ({extras})" if extras else "")
                )
            c = entry["ceiling"]
            if c["within"]:
                lines.append(f"    ceiling of group {c['group']}: within it  [{c['source']}]")
            else:
                over = "; ".join(f"{o['right']} {o['granted']} > {o['allowed']}" for o in c["over"])
                lines.append(f"    ceiling of group {c['group']}: EXCEEDED ({over})  [{c['source']}]")
            lines.extend(_qualifications(entry))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _qualifications(entry: dict) -> list[str]:
    """The qualification chain of a grant: required where, held until when (or lacking, and why)."""
    out = []
    for q in entry.get("qualifications", ()):
        held = q["held"]
        if q["valid"]:
            until = f"valid through {held['expires']}" if held and held["expires"] else "does not expire"
            state = f"held, {until}  [{held['source']}]" if held else "held"
        else:
            state = f"LACKING: {q['lacking']}" + (f"  [{held['source']}]" if held else "")
        lines = f"    requires {q['qualification']}" + (f" ({q['name']})" if q["name"] else "")
        out.append(f"{lines} ← {q['required_by']}  [{q['source']}]: {state}")
    return out
