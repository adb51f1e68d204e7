"""Jinja prompt checks and the column dependency order they imply."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

import jinja2
from jinja2 import meta

# StrictUndefined: a variable no column or seed field provides is an error, never an empty string.
ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def template_variables(template: str) -> set[str]:
    """Names a Jinja template reads; raises jinja2.TemplateSyntaxError on bad syntax."""
    return meta.find_undeclared_variables(ENV.parse(template))


def dependency_order(reads: dict[str, set[str]]) -> list[str]:
    """LLM columns sorted so every column comes after the columns its prompt reads.

    `reads` maps each column (in declaration order) to the other LLM columns it uses; independent
    columns keep their declaration order. Raises ValueError naming the cycle.
    """
    try:
        TopologicalSorter(reads).prepare()
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise ValueError(f"LLM columns depend on each other in a cycle: {cycle}") from exc
    done: list[str] = []
    while len(done) < len(reads):
        done += [c for c, deps in reads.items() if c not in done and deps <= set(done)][:1]
    return done
