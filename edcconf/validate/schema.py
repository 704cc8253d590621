"""JSON Schema validation of each declaration file, reported at the file:line of the offending node."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..diagnostics import Diagnostic, error
from ..rules import files as files_rules
from ..rules import openclinica_security as openclinica_security_rules
from ..rules.openclinica_security import MOVED, moved_message
from ..source.yamlfile import ParsedFile

if TYPE_CHECKING:  # jsonschema itself is imported when a file is first checked: a tenth of a second that
    # a plan answered from the memo or the file cache never needs
    import jsonschema
    from jsonschema.exceptions import ValidationError

ROOT_SCHEMA = "document.schema.json"
_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "nothing (null)",
}


@lru_cache(maxsize=1)
def _schemas() -> dict[str, dict]:
    return {
        p.name: json.loads(p.read_text("utf-8"))
        for p in resources.files("edcconf.schemas").iterdir()
        if p.name.endswith(".schema.json")
    }


def _inline(node: Any, here: str, schemas: dict[str, dict]) -> Any:
    """The schema with every $ref replaced by what it points at (ours are not recursive): a reference
    lookup per node is most of jsonschema's time on large files."""
    if isinstance(node, list):
        return [_inline(n, here, schemas) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target, _, pointer = node["$ref"].partition("#")
        doc_name = target or here
        found: Any = schemas[doc_name]
        for part in filter(None, pointer.split("/")):
            found = found[part]
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**_inline(found, doc_name, schemas), **_inline(rest, here, schemas)}
    return {k: _inline(v, here, schemas) for k, v in node.items() if k not in ("$defs", "$schema")}


@lru_cache(maxsize=1)
def _inlined() -> dict:
    return _inline(_schemas()[ROOT_SCHEMA], ROOT_SCHEMA, _schemas())


def ecma_end(pattern: str) -> str:
    """A schema pattern for Python's re with ECMA-262's meaning of `$` (JSON Schema's regex dialect): the
    end of the text. Python's `$` also matches before a final newline, so `^[a-z]+$` would accept "id\\n":
    a second person, study or directory that looks like the first. Only a `$` outside a character class
    and not escaped is an anchor (fastjsonschema makes the same replacement)."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "$":
            c = r"\Z"
        out.append(c)
        i += 1
    return "".join(out)


@cache
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(ecma_end(pattern))


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict) -> Iterable[ValidationError]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    """Compiled once per process: loading and checking the schemas costs more than validating a file.
    Patterns are matched as JSON Schema means them (ECMA-262: `$` is the end of the text), as the fast
    check does: a file it rejects must get its errors here, never an empty report."""
    import jsonschema

    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", **_inlined()}
    # (the schemas are checked against the metaschema by the tests, not by every command: 0.3 s)
    ecma = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern})
    return ecma(root)


@lru_cache(maxsize=1)
def _fast_check():
    """The same schema compiled to Python code: it only answers valid or not, many times faster.
    Our schemas use nothing beyond draft 7 once inlined; a file it rejects gets jsonschema's full,
    located report (and the scalar coercion), so messages never depend on this path."""
    import fastjsonschema  # local: fastjsonschema is slow to import

    return fastjsonschema.compile({"$schema": "http://json-schema.org/draft-07/schema#", **_inlined()})


def schema_names() -> list[str]:
    return sorted(p.name for p in resources.files("edcconf.schemas").iterdir() if p.name.endswith(".schema.json"))


# Files checked by this process before the compiled check (_fast_check) is made: compiling costs 0.3 s,
# jsonschema about 20 ms for a study file. A plan after a small change checks a file or two; a full load
# checks thousands (a parse worker then pays jsonschema for its first few).
FAST_AFTER = 4
_checked = 0


def validate_file(parsed: ParsedFile) -> list[Diagnostic]:
    if parsed.checked is not None:  # the same bytes were checked by this same code before
        return list(parsed.checked)
    if parsed.data is None:
        return [
            error(
                files_rules.SCHEMA.code,
                "the file is empty; a declaration file holds at least one of: "
                "environment, sites, group, study (or their plurals), openclinica_domain",
                parsed.loc(),
            )
        ]
    global _checked
    _checked += 1
    if _checked > FAST_AFTER:
        import fastjsonschema  # local: fastjsonschema is slow to import

        try:
            _fast_check()(parsed.data)
            return []
        except fastjsonschema.JsonSchemaException:
            pass
    validator = _validator()
    errors = _coerce_plain_scalars(parsed, validator)
    return [d for e in errors for d in _describe(parsed, e)]


def _coerce_plain_scalars(parsed: ParsedFile, validator: Any) -> list[ValidationError]:
    """Where the schema wants text and the author wrote a plain scalar (`1.10`, `2024`), keep the text.

    YAML would make these numbers or booleans; the schema knows better. Repeat until stable because a
    coercion can expose errors further down.
    """
    for _ in range(8):
        errors = list(validator.iter_errors(parsed.data))
        changed = False
        for err in _leaves(errors):
            path = tuple(err.absolute_path)
            if path in parsed.plain_text and _wants_text(err):
                _set(parsed.data, path, parsed.plain_text.pop(path))
                changed = True
        if not changed:
            return errors
    return errors


def _leaves(errors: Iterable[ValidationError]) -> Iterable[ValidationError]:
    for err in errors:
        yield err
        yield from _leaves(err.context or ())


# `err` is a ValidationError; typed Any because the stubs mark validator_value and schema as possibly unset,
# which they never are on an error a validator yields.
def _wants_text(err: Any) -> bool:
    if err.validator == "type":
        wanted = err.validator_value
        return wanted == "string" or (isinstance(wanted, list) and "string" in wanted)
    if err.validator in ("enum", "const"):
        options = err.validator_value if err.validator == "enum" else [err.validator_value]
        return any(isinstance(o, str) for o in options)
    return False


def _set(data: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def _where(path: Iterable) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the file"


def _describe(parsed: ParsedFile, err: Any) -> list[Diagnostic]:
    path = tuple(err.absolute_path)
    where = _where(path)
    loc = parsed.nearest_loc(path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = sorted((err.schema.get("properties") or {}).keys())
        out = []
        for key in sorted(set(err.instance) - set(allowed)):
            if _moved(path, key):
                out.append(
                    error(
                        openclinica_security_rules.SETTING_MOVED.code, moved_message(key), parsed.key_loc(path + (key,))
                    )
                )
                continue
            hint = _suggest(key, allowed)
            what = "top-level key" if not path else "key"
            out.append(
                error(
                    files_rules.SCHEMA.code,
                    f"unknown {what} {key!r} in {where}{hint}; allowed: {', '.join(allowed)}",
                    parsed.key_loc(path + (key,)),
                )
            )
        return out
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return [error(files_rules.SCHEMA.code, f"{where} is missing the required key {missing!r}", loc)]
    if err.validator == "type":
        wanted = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        want = " or ".join(_TYPE_WORDS.get(w) or str(w) for w in wanted)
        written = parsed.plain_text.get(path)
        found = f"{written!r}" if written is not None else _describe_value(err.instance)
        hint = ""
        if (
            "boolean" in wanted
            and isinstance(err.instance, str)
            and err.instance.lower() in ("yes", "no", "on", "off", "y", "n")
        ):
            hint = f" (YAML 1.1 would read {err.instance!r} as a boolean; edcconf does not: write true or false)"
        return [error(files_rules.SCHEMA.code, f"{where} must be {want}, found {found}{hint}", loc)]
    if err.validator == "enum":
        options = [str(o) for o in err.validator_value]
        return [
            error(
                files_rules.SCHEMA.code,
                f"{where}: {err.instance!r} is not one of {', '.join(options)}{_suggest(str(err.instance), options)}",
                loc,
            )
        ]
    if err.validator == "pattern":
        desc = err.schema.get("description", f"text matching {err.validator_value}")
        return [error(files_rules.SCHEMA.code, f"{where}: {err.instance!r} is not valid; expected {desc}", loc)]
    if err.validator in ("oneOf", "anyOf") and path and path[-1] in ("sites", "environments"):
        return [
            error(
                files_rules.SCHEMA.code,
                f"{where} must be `all` or a list of ids, found {_describe_value(err.instance)}",
                loc,
            )
        ]
    if err.validator == "uniqueItems":
        return [error(files_rules.SCHEMA.code, f"{where} lists the same value twice", loc)]
    if err.validator == "minProperties":
        return [
            error(
                files_rules.SCHEMA.code,
                f"{where} is an empty mapping; declare at least one of: environment, sites, group, study",
                loc,
            )
        ]
    return [error(files_rules.SCHEMA.code, f"{where}: {err.message}", loc)]


def _moved(path: tuple, key: str) -> bool:
    """An environment's `security.<key>` that now belongs to the OpenClinica domain (see CHANGELOG)."""

    return key in MOVED and len(path) >= 2 and path[-1] == "security" and path[0] in ("environment", "environments")


def _describe_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return _TYPE_WORDS["boolean" if isinstance(value, bool) else "null"]
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return repr(value)


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
