"""`sdgflow validate IN.jsonl -c NAME -o VALID.jsonl --rejects REJ.jsonl --report REPORT.json`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sdgflow.cli.app import app
from sdgflow.cli.common import OverridesArg, RecipeOption, err, user_errors


@app.command("validate")
def validate(
    input: Annotated[Path, typer.Argument(
        help="projected.jsonl (rows with `_sdg`) or any final-format JSONL.")],
    config: RecipeOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Valid rows only (JSONL).")],
    rejects: Annotated[Path, typer.Option("--rejects", help="Rejected rows with every failed "
                                          "code and reason (JSONL).")],
    report: Annotated[Path, typer.Option("--report", help="validation.json report.")],
    projection_rejects: Annotated[Path | None, typer.Option(
        "--projection-rejects", help="Projection rejects to count in the pass rate.")] = None,
    overrides: OverridesArg = None,
) -> None:
    """Check every row; exit 1 when the pass rate is below validation.min_pass_rate."""
    from sdgflow.config.load import load_recipe
    from sdgflow.validate.run import GateFailed, validate_file

    with user_errors():
        recipe = load_recipe(config, overrides or [])
    if not input.is_file():
        err.print(f"[bold red]error:[/] input {input} is not a file", highlight=False)
        sys.exit(2)
    try:
        result = validate_file(input, recipe.validation, recipe.output_projection, out, rejects,
                               report, projection_rejects_path=projection_rejects)
    except GateFailed as failure:
        err.print(f"[bold red]{failure}[/]\n  report: {report}", highlight=False)
        sys.exit(1)
    total = result.records_in + result.projection_rejects
    typer.echo(f"valid {result.valid} of {total} ({result.pass_rate:.1%}), rejected "
               f"{result.rejected}, warned {result.warned} -> {out}; report {report}")
