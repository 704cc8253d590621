"""Validate stage: JSON Schema per file, then the model, then each family of rules (edcconf/rules/).

This package only orchestrates: it checks each file against its schema, builds the model, and calls the
rule families, which hold the rules' codes and judgement.

Problems are collected across all files and reported together. Syntax and schema errors stop the
stage before references are checked: a file that could not be read would otherwise surface as a
cascade of misleading "unknown reference" errors elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..diagnostics import Diagnostics
from ..model import Model
from ..rules.identity import check_emails
from ..rules.policy import check_policy
from ..rules.qualifications import check_qualifications
from ..rules.references import check_references
from ..rules.reviews import check_reviews
from ..rules.site_roles import check_site_roles
from ..rules.systems import check_systems
from ..rules.vault_status import check_study_status
from ..source import Sources
from .build import build_model
from .schema import validate_file
from .systems import check_targets_and_versions


@dataclass(frozen=True)
class Validated:
    model: Model | None  # None when the configuration has errors that prevent building it
    diagnostics: Diagnostics


def validate(sources: Sources) -> Validated:
    diags = Diagnostics(sources.diagnostics)
    for parsed in sources.files:
        checked = validate_file(parsed)
        sources.reader.checked(sources.root, parsed, checked)  # e.g. kept in a cache beside the parse
        diags.extend(checked)
    if diags.has_errors:
        return Validated(None, diags)
    model, problems = build_model(sources.root, sources.digest, sources.files)
    diags.extend(problems)
    diags.extend(check_references(model))
    diags.extend(check_policy(model))
    diags.extend(check_site_roles(model))
    diags.extend(check_study_status(model))
    diags.extend(check_systems(model))
    diags.extend(check_targets_and_versions(model))
    diags.extend(check_emails(model))
    diags.extend(check_reviews(model))
    diags.extend(check_qualifications(model))
    return Validated(model, diags)
