"""`who-can` as a text table or CSV (the document is questions.who_can's)."""

from __future__ import annotations

from ..rules.admins import IMPLICIT_REASON


def render_who_can(doc: dict) -> str:
    if not doc["people"]:
        return "Nobody.\n"
    if doc["question"]["kind"] == "person-ability":
        header = ["user", "name", "group", "has", "declared at"]
        rows = [[r["user"], r["name"], r["group"], r["has"], r["source"] or ""] for r in doc["people"]]
    else:
        header = ["environment", "study", "user", "name", "role", "sites", "has", "granted at"]
        rows = [
            [
                r["environment"],
                r["study"],
                r["user"],
                r["name"],
                r["role"] or "(admin)",
                " ".join(r["sites"]),
                r["has"],
                r["source"] or "",
            ]
            for r in doc["people"]
        ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    text = (
        "\n".join([fmt.format(*header), fmt.format(*["-" * w for w in widths])] + [fmt.format(*r) for r in rows]) + "\n"
    )
    if any(r.get("implicit") for r in doc["people"]):
        text += f"IMPLICIT (admin): {IMPLICIT_REASON}\n"
    if doc.get("qualification"):
        text += f"Only people who hold {doc['qualification']}, valid on {doc['as_of']}.\n"
    if doc.get("cannot"):
        text += (
            "Cannot: "
            + "; ".join(f"{r['user']} (group {r['group']})" for r in doc["cannot"])
            + " — a user who cannot be granted full User Rights cannot create or copy projects (002)\n"
        )
    return text


def who_can_csv(doc: dict) -> str:
    from ..providers.csvfiles import to_csv

    return to_csv(
        ["environment", "study", "user", "name", "role", "base_role", "sites", "expires", "has", "source", "implicit"],
        [
            [
                r["environment"] or "",
                r["study"] or "",
                r["user"],
                r["name"],
                r["role"] or "",
                r["base_role"] or "",
                " ".join(r["sites"]),
                r["expires"] or "",
                r["has"],
                r["source"] or "",
                r.get("implicit") or "",
            ]
            for r in doc["people"]
        ],
    ).decode("utf-8")
