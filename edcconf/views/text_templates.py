"""The jinja2 environment of the text templates a configuration repository may override (notifications,
alerts): one place for how they are rendered."""

from __future__ import annotations

from jinja2 import BaseLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment


def sandboxed_text_templates(loader: BaseLoader) -> ImmutableSandboxedEnvironment:
    """Sandboxed: a template comes from the configuration repository (a pull request), and may format text,
    never reach Python objects or run code on the machine that applies. Strict: a misspelt variable is an
    error, not an empty string. Plain text: no HTML escaping, the trailing newline kept. Read once: a
    command renders thousands of messages and never sees a template change meanwhile (no file time
    checked per message)."""
    return ImmutableSandboxedEnvironment(
        loader=loader, undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, auto_reload=False
    )
