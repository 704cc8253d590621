"""The institution's rules, one module per family, each rule defined in exactly one place."""
