"""Find the line of a dotted key path in a YAML file, so errors can say `file:line`."""

from __future__ import annotations

from pathlib import Path

import yaml


def line_of(path: Path, keys: list[str | int]) -> int | None:
    """1-based line of the deepest node of `keys` present in `path`, or None."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    line = None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                return line
            key_node = next(k for k, v in node.value if v is match)
            line, node = key_node.start_mark.line + 1, match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def dotted(keys: tuple[str | int, ...] | list[str | int]) -> str:
    """`('columns', 2, 'model_alias')` -> `columns[2].model_alias`."""
    out = ""
    for key in keys:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out
