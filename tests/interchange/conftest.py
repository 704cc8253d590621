def codes_at(parsed):
    """(code, line) of every diagnostic, sorted, so a test names exactly what it expects."""
    return sorted((d.code, d.loc.line) for d in parsed.diagnostics)
