"""`sdgflow compare A.validation.json B.validation.json`: what changed between two builds."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sdgflow.cli.app import app
from sdgflow.cli.common import err


@app.command("compare")
def compare_builds(
    before: Annotated[Path, typer.Argument(help="The earlier build's <name>.validation.json "
                                           "(e.g. <name>.validation.previous.json).")],
    after: Annotated[Path, typer.Argument(help="The later build's <name>.validation.json.")],
) -> None:
    """Two builds side by side: pass rate, reject codes, judge score means, diversity and
    lengths, with the stages and prompts that changed between them."""
    from sdgflow.quality.compare import compare, packing_beside, read_json_file, read_summary

    try:
        a, b = read_summary(before), read_summary(after)
    except ValueError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    # Token lengths come from each build's packing report beside its validation.json.
    packing_a, packing_b = (read_json_file(packing_beside(p)) for p in (before, after))
    typer.echo(compare(a, b, packing_a, packing_b).text(before.name, after.name))
