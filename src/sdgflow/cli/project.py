"""`sdgflow project INPUT -c NAME -o OUT.jsonl --rejects REJ.jsonl`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sdgflow.cli.app import app
from sdgflow.cli.common import OverridesArg, RecipeOption, err, user_errors


@app.command("project")
def project(
    input: Annotated[Path, typer.Argument(
        help="A generation shard parquet, a directory of shards, or a JSONL file of records.")],
    config: RecipeOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Projected rows (JSONL).")],
    rejects: Annotated[Path, typer.Option("--rejects", help="Records that could not be "
                                          "projected, with reason codes (JSONL).")],
    overrides: OverridesArg = None,
) -> None:
    """Turn generated records into training rows (plus a private `_sdg` key for validation)."""
    from sdgflow.config.load import load_recipe
    from sdgflow.project.run import iter_records, project_records, projection_columns

    with user_errors():
        recipe = load_recipe(config, overrides or [])
    if not input.exists():
        err.print(f"[bold red]error:[/] input {input} does not exist", highlight=False)
        sys.exit(2)
    projection = recipe.output_projection
    try:
        columns = projection_columns(input, projection)
        summary = project_records(iter_records(input, columns), projection, out, rejects)
    except (FileNotFoundError, ValueError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    codes = ", ".join(f"{c} {n}" for c, n in sorted(summary.codes.items())) or "none"
    typer.echo(f"projected {summary.projected} of {summary.records} records -> {out}; "
               f"rejected {summary.rejected} ({codes}) -> {rejects}")
