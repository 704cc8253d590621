"""Reading the declaration files (docs/format.md, docs/reliability.md): YAML, size, paths, keys, schemas."""

from __future__ import annotations

from .book import rule

FAMILY = "files"

YAML_SYNTAX = rule(
    "yaml-syntax",
    family=FAMILY,
    source="docs/format.md",
    kind="error",
    summary="the file is UTF-8 YAML, one document, plain data only",
    text=("the file is UTF-8 YAML, one document, plain data only (no tags), nesting and alias expansion bounded"),
    example=(
        "studies/x.yaml:4:3: error[yaml-syntax]: the tag !!python/object is not allowed: edcconf reads "
        "plain data only (remove the tag)"
    ),
)

FILE_TOO_LARGE = rule(
    "file-too-large",
    family=FAMILY,
    source="[reliability](reliability.md)",
    kind="error",
    summary="a declaration file is at most 10 MiB",
    text=(
        "a declaration file is at most 10 MiB (`MAX_FILE_BYTES`); a larger one is refused from its size, "
        "before it is parsed"
    ),
    example=(
        "groups/all.yaml: error[file-too-large]: the file is 11,534,336 bytes, over the limit of "
        "10,485,760 bytes (10 MiB) for one declaration file; split it into several files"
    ),
)

UNSAFE_PATH = rule(
    "unsafe-path",
    family=FAMILY,
    source="[reliability](reliability.md)",
    kind="error",
    summary="no declaration file or directory is a symbolic link to outside the configuration directory",
    text=(
        "no declaration file or directory is a symbolic link to outside the configuration directory (the "
        "file behind it is never read); links inside it are followed; at run time, a target's `out:` "
        "leaves the configuration directory; or something edcconf writes (state, audit log, lock, "
        "journal, history, cache, bulk files, notifications, an import's files, `--out` inside the "
        "configuration directory) would go through a symbolic link to outside it"
    ),
    example=(
        "groups/x.yaml: error[unsafe-path]: groups/x.yaml is a symbolic link to a place outside the "
        "configuration directory; edcconf reads only files inside it (nothing behind the link was read): "
        "copy what it needs in, or point the link inside"
    ),
)

DUPLICATE_KEY = rule(
    "duplicate-key",
    family=FAMILY,
    source="docs/format.md",
    kind="error",
    summary="a mapping never repeats a key",
    text="a mapping never repeats a key (YAML would silently keep the last)",
    example="duplicate key 'id' (first defined at line 2); YAML would silently keep only the last one",
)

SCHEMA = rule(
    "schema",
    family=FAMILY,
    source="docs/format.md, 004",
    kind="error",
    summary="each file matches the JSON Schema of its kind (keys, types, values, patterns)",
    text=(
        "the JSON Schema of each kind (`schemas/`): known keys (with a suggestion), types, values, dates "
        "that exist; one of `sites`/`countries` per grant; REDCap right values in range; `redcap:` only "
        "on REDCap roles; a pattern matches the whole text, as JSON Schema means it (an id, username, "
        "date or e-mail ending in a newline is refused, never a second one); e-mails hold no spaces nor "
        "invisible characters (zero-width spaces and joiners, soft hyphens, direction marks, byte-order "
        "marks)"
    ),
    example=(
        "study.forms[0].contact_data must be true or false, found 'yes' (YAML 1.1 would read 'yes' as a "
        "boolean; edcconf does not: write true or false)"
    ),
)
