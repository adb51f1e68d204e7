"""How `messages` and `tools` are laid out in a row: JSON arrays, or one JSON string each.

`output_projection.tools_format` / `messages_format: json_string` write the array's compact
JSON text as a string, which every loader reads back exactly (an Arrow loader that infers one
struct per column, as `datasets.load_dataset("json")` before 4.7 does, adds the keys of every
other tool and message as nulls). Everything that reads rows for their content parses the
strings back with `decoded`; `project` writes them (`project_structured`).
"""

from __future__ import annotations

import contextlib
from typing import Any

from sdgflow.project.projections import loads

LAYOUT_KEYS = ("messages", "tools")


def decoded(row: Any) -> Any:
    """`row` with JSON-string messages / tools parsed back (a copy; `row` when there are none).
    A string that is not JSON text stays as it is, for the reader to report."""
    if not isinstance(row, dict) or not any(isinstance(row.get(k), str) for k in LAYOUT_KEYS):
        return row
    out = dict(row)
    for key in LAYOUT_KEYS:
        value = out.get(key)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                out[key] = loads(value)
    return out
