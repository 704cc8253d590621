"""edcconf: declarative, reviewed access management for EDC systems."""

__version__ = "0.2.0"
