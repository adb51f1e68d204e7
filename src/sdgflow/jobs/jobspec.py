"""JobSpec: what a Snakemake job hands a stage, as plain data (str, int, list, dict).

Stages read `job.input.rows`, `job.output.shard`, `job.log[0]` as they would on Snakemake's own
job object, but nothing here needs Snakemake to unpickle: the warm runner hands a JobSpec to a
process that never imports Snakemake, and in-process runs use the very same object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Items(list):  # type: ignore[type-arg]
    """Positional items with named attributes, like Snakemake's Namedlist."""

    def __init__(self, items: list[Any], named: dict[str, Any]) -> None:
        super().__init__(items)
        self.__dict__.update(named)

    def __reduce__(self) -> tuple[Any, ...]:
        return Items, (list(self), dict(self.__dict__))


def plain(value: Any) -> Any:
    """Snakemake's str subclasses (IOFile) and Namedlists become str and list."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)


def items_of(namedlist: Any) -> Items:
    """A Snakemake Namedlist (or a plain list) as Items of plain values."""
    named = {str(k): plain(v) for k, v in namedlist.items()} if hasattr(namedlist, "items") else {}
    return Items([plain(v) for v in namedlist], named)


@dataclass
class JobSpec:
    rule: str
    input: Items
    output: Items
    params: Items
    wildcards: Items
    resources: Items
    log: Items
    threads: int
