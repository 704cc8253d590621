"""The permission graph written as Graphviz DOT or GraphML (for yEd, Gephi, networkx)."""

from __future__ import annotations

import io
import json

import networkx as nx

_SHAPES = {
    "person": "ellipse",
    "group": "hexagon",
    "study": "box3d",
    "site": "house",
    "environment": "cylinder",
    "role": "box",
    "base_role": "component",
    "form": "note",
    "tag": "tab",
}


def node_id(node: tuple[str, str]) -> str:
    return f"{node[0]}:{node[1]}"


def _plain(value: object) -> str | int | float | bool:
    """GraphML attributes are scalars: lists and mappings become JSON text, None an empty string."""
    if value is None:
        return ""
    if isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, sort_keys=True)


def _labelled(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    out: nx.MultiDiGraph = nx.MultiDiGraph()
    for node, data in sorted(graph.nodes(data=True)):
        out.add_node(node_id(node), kind=node[0], name=node[1], **{k: _plain(v) for k, v in data.items()})
    for u, v, data in sorted(graph.edges(data=True), key=lambda e: (e[0], e[1], str(sorted(e[2].items())))):
        out.add_edge(node_id(u), node_id(v), **{k: _plain(val) for k, val in data.items()})
    return out


def to_graphml(graph: nx.MultiDiGraph) -> str:
    buffer = io.BytesIO()
    nx.write_graphml(_labelled(graph), buffer, encoding="utf-8")
    return buffer.getvalue().decode("utf-8")


def _quote(text: object) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _edge_label(data: dict) -> str:
    kind = data.get("kind", "")
    if kind == "level":
        return str(data.get("level"))
    if kind == "granted":
        sites = ", ".join(data.get("sites") or ())
        envs = ", ".join(data.get("environments") or ()) or "no environment now"
        return f"granted at {sites} ({envs})"
    return kind.replace("_", " ")


def to_dot(graph: nx.MultiDiGraph) -> str:
    lines = ["digraph edcconf {", "  rankdir=LR;", "  node [fontsize=10];", "  edge [fontsize=9];"]
    for node, data in sorted(graph.nodes(data=True)):
        tooltip = data.get("source") or ""
        lines.append(
            f"  {_quote(node_id(node))} [label={_quote(node[1])}, shape={_SHAPES.get(node[0], 'ellipse')}, "
            f"tooltip={_quote(tooltip)}];"
        )
    for u, v, data in sorted(graph.edges(data=True), key=lambda e: (e[0], e[1], str(sorted(e[2].items())))):
        lines.append(
            f"  {_quote(node_id(u))} -> {_quote(node_id(v))} [label={_quote(_edge_label(data))}, "
            f"tooltip={_quote(data.get('source') or '')}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"
