"""Options and error handling every command shares (exit codes: 0 ok, 1 failed, 2 usage)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console

from sdgflow.config.errors import ConfigError

err = Console(stderr=True)

RecipeOption = Annotated[str, typer.Option("--config", "-c",
                                           help="Recipe name (configs/NAME.yaml) or path.")]
OverridesArg = Annotated[list[str] | None, typer.Argument(
    help="Overrides as dotted KEY=VALUE, e.g. num_records=2 "
    "models.0.inference_parameters.temperature=0.5")]
VerboseOption = Annotated[int, typer.Option("--verbose", "-v", count=True,
                                            help="More log detail (repeatable).")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")]


@contextmanager
def user_errors() -> Iterator[None]:
    """Config and input errors print their message (with the fix) and exit 2."""
    try:
        yield
    except ConfigError as error:
        err.print(f"[bold red]error:[/] {error}", highlight=False, markup=True, soft_wrap=True)
        sys.exit(2)
