"""Plan stage: desired effective state vs the last applied state → ordered changes with reasons."""

from .diff import field_changes, make_plan
from .model import ADD_ACTIONS, PLAN_FORMAT_VERSION, REVOKE_ACTIONS, Change, Plan

__all__ = ["Change", "Plan", "make_plan", "field_changes", "PLAN_FORMAT_VERSION", "ADD_ACTIONS", "REVOKE_ACTIONS"]
