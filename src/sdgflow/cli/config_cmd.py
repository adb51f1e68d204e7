"""`sdgflow config show|hash`: the resolved recipe and each stage's content hash."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from sdgflow.cli.app import app
from sdgflow.cli.common import OverridesArg, RecipeOption, user_errors

config_app = typer.Typer(help="Inspect a recipe: resolved values and stage hashes.",
                         no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
def show(config: RecipeOption, overrides: OverridesArg = None) -> None:
    """Print the resolved recipe (api_key stays a variable NAME; no secret is ever resolved)."""
    from omegaconf import OmegaConf

    from sdgflow.config.load import load_recipe

    with user_errors():
        recipe = load_recipe(config, overrides or [])
    typer.echo(OmegaConf.to_yaml(recipe.model_dump(mode="json")), nl=False)


@config_app.command("hash")
def hash_(config: RecipeOption, overrides: OverridesArg = None,
          as_json: Annotated[bool, typer.Option("--json", help="Print {stage: hash} as JSON."
                                                )] = False) -> None:
    """Print each stage's spec hash, and the keys no hash contains (with why)."""
    from rich.console import Console
    from rich.table import Table

    from sdgflow.build.spec import EXCLUDED, digest, stage_specs
    from sdgflow.config.load import load_recipe

    with user_errors():
        recipe = load_recipe(config, overrides or [])
        specs = stage_specs(recipe)
    if as_json:
        typer.echo(json.dumps({stage: digest(spec) for stage, spec in specs.items()}, indent=2))
        return
    table = Table("stage", "hash", title=f"stage hashes of {recipe.name}")
    for stage, spec in specs.items():
        if not stage.startswith("rows-"):
            table.add_row(stage, digest(spec))
    shards = [s for s in specs if s.startswith("rows-")]
    table.add_row(f"rows-0..{len(shards) - 1}", "(one per shard: rows hash + record range)")
    console = Console()
    console.print(table)
    excluded = Table("key", "why it never causes a rerun", title="excluded from every hash")
    for key, why in EXCLUDED.items():
        excluded.add_row(key, why)
    console.print(excluded)
