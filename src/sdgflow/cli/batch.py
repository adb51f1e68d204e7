"""`sdgflow batch status|cancel`: the Batch API jobs of a build (`models[].execution: batch`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sdgflow.cli.app import app
from sdgflow.cli.common import OverridesArg, RecipeOption, user_errors

batch_app = typer.Typer(help="Batch API jobs of a build (status, cancel) and shard request files "
                        "for `vllm run-batch` (export, import).",
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


DirOption = Annotated[Path, typer.Option("--dir", "-d", help="Folder of the shard files.")]


@batch_app.command("export")
def export(config: RecipeOption, directory: DirOption, overrides: OverridesArg = None) -> None:
    """Write each shard's unanswered requests as Batch API input files (`vllm run-batch -i`)."""
    from sdgflow.config.load import load_recipe
    from sdgflow.generate.batch_files import export_requests

    with user_errors():
        done = export_requests(load_recipe(config, overrides or []), directory)
    typer.echo(f"{done.requests} requests in {done.files} files under {directory} "
               "(shard-K.jsonl)" if done.files else
               "nothing to export: the store answers every request whose inputs it has")


@batch_app.command("import")
def import_(config: RecipeOption, directory: DirOption, overrides: OverridesArg = None) -> None:
    """Store the answers of `shard-K.output.jsonl` files (Batch API output format)."""
    from sdgflow.config.load import load_recipe
    from sdgflow.generate.batch_files import import_outputs

    with user_errors():
        done = import_outputs(load_recipe(config, overrides or []), directory)
    typer.echo(f"stored {done.requests} answers from {done.files} output files; "
               f"{len(done.failed)} lines had no usable answer")
    for key, why in list(done.failed.items())[:5]:
        typer.echo(f"  {key[:12]}: {why}")
