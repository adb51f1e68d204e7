"""`sdgflow report -c NAME`: rebuild the HTML dataset report from a recipe's existing files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sdgflow.cli.app import app
from sdgflow.cli.common import (
    OverridesArg,
    QuietOption,
    RecipeOption,
    VerboseOption,
    err,
    user_errors,
)


@app.command("report")
def report(
    config: RecipeOption,
    overrides: OverridesArg = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="HTML file to write (default: <output stem>.report.html).")] = None,
    verbose: VerboseOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Rebuild <name>.report.html from the run's files (no generation, no requests).

    Needs the validated JSONL and validation.json of a finished run; packing.json and the
    generation shards are used when present.
    """
    from sdgflow.build.paths import RecipePaths, shard_ranges
    from sdgflow.config.load import load_recipe
    from sdgflow.jobs.job import configure_logging
    from sdgflow.report.build import write_report

    configure_logging(None, -1 if quiet else verbose)
    with user_errors():
        recipe = load_recipe(config, overrides or [])
    paths = RecipePaths.of(recipe)
    missing = [p for p in (paths.output, paths.validation) if not p.is_file()]
    if missing:
        err.print(f"[bold red]error:[/] {', '.join(map(str, missing))} not found: run "
                  f"`sdgflow run -c {config}` first (same overrides).", highlight=False)
        sys.exit(2)
    shards = [paths.gen(k) for k in range(len(shard_ranges(recipe.num_records,
                                                           recipe.shard_size)))]
    absent = [s for s in shards if not s.is_file()]
    if absent:
        err.print(f"[yellow]warning:[/] {len(absent)} of {len(shards)} generation shards are "
                  "missing; generation figures cover the rest.", highlight=False)
    target = out or paths.report
    data = write_report(recipe, shards=shards, valid=paths.output, rejects=paths.rejects,
                        validation=paths.validation, packing=paths.packing, out=target,
                        projection_rejects=paths.projection_rejects)
    typer.echo(f"{target}: {data.dataset.rows} valid rows, {data.rejected_total} rejected, "
               f"{len(data.dataset.samples)} sample conversations")
