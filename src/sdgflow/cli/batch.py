"""`sdgflow batch status|cancel`: the Batch API jobs of a build (`models[].execution: batch`)."""

from __future__ import annotations

import typer

from sdgflow.cli.app import app
from sdgflow.cli.common import OverridesArg, RecipeOption, user_errors

batch_app = typer.Typer(help="Batch API jobs of a build: list them, cancel the open ones.",
                        no_args_is_help=True)
app.add_typer(batch_app, name="batch")


def _show(config: str, overrides: list[str] | None, cancel: bool) -> None:
    # The recipe stack and the openai client only when the command runs (not at --help).
    import asyncio

    from rich.console import Console
    from rich.table import Table

    from sdgflow.build.paths import RecipePaths
    from sdgflow.config.load import load_recipe
    from sdgflow.generate.batch import survey

    with user_errors():
        recipe = load_recipe(config, overrides or [])
    store = RecipePaths.of(recipe).store
    rows = asyncio.run(survey(recipe, store, cancel=cancel))
    if not rows:
        typer.echo(f"no batches in {store}/batches (no generate job of this build used a "
                   "model with `execution: batch`)")
        return
    table = Table(title=f"batches of {recipe.name}" + (" (cancel requested)" if cancel else ""))
    columns = ["shard", "records", "batch_id", "columns", "round", "status", "completed",
               "failed", "total"] + (["note"] if any(r["note"] for r in rows) else [])
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    Console().print(table)


@batch_app.command("status")
def status(config: RecipeOption, overrides: OverridesArg = None) -> None:
    """List the build's open and finished batches (id, shard, status, counts)."""
    _show(config, overrides, cancel=False)


@batch_app.command("cancel")
def cancel(config: RecipeOption, overrides: OverridesArg = None) -> None:
    """Cancel the build's open batches; what they completed is kept by the next run."""
    _show(config, overrides, cancel=True)
