"""Read and write the systems' own bulk CSV files exactly (docs/interchange.md).

Pure functions with no knowledge of edcconf's YAML model: per format, frozen dataclasses for its rows,
`read_*(data: bytes, file: str) -> Parsed[...]` that collects every problem as a Diagnostic located at
the line where the record starts, and `write_*(rows) -> bytes` in the system's own dialect.
"""

from ._csv import Parsed, safe_cell, to_csv, unsafe_cell

__all__ = ["Parsed", "safe_cell", "to_csv", "unsafe_cell"]
