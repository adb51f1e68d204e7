"""`sdgflow plan`: what the next build would send and pay, before anything is sent."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from sdgflow.cli.app import app
from sdgflow.cli.common import OverridesArg, RecipeOption, user_errors


@app.command("plan")
def plan(config: RecipeOption, overrides: OverridesArg = None,
         as_json: Annotated[bool, typer.Option("--json", help="Print the plan as one JSON "
                                               "object.")] = False) -> None:
    """Print, per LLM column, the records, the answers already stored, the requests the next
    build would send, their estimated tokens and cost, and the time the limits imply.

    Makes no request (not even the model list): it reads the recipe and the store only.
    """
    from sdgflow.config.load import load_recipe
    from sdgflow.generate.forecast import forecast, summary_lines

    with user_errors():
        recipe = load_recipe(config, overrides or [])
        result = forecast(recipe)
    if as_json:
        typer.echo(json.dumps(result.as_json(), indent=2))
        return
    for line in summary_lines(result):
        typer.echo(line)
