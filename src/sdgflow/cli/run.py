"""`sdgflow run`: build a recipe's outputs with Snakemake, exactly as the CLI would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from sdgflow.cli.app import app
from sdgflow.cli.common import OverridesArg, QuietOption, RecipeOption, VerboseOption, err


def snakemake_argv(config: str, overrides: list[str], jobs: int, profile: str | None,
                   targets: list[str], extra: list[str]) -> list[str]:
    """The snakemake command line for a recipe: the same `--config` carrier keys users type."""
    from sdgflow.config.load import DOTLIST_KEY, SELECT_KEY  # (the recipe stack: not at --help)

    # Targets go first: `--config` takes every following word as another KEY=VALUE.
    argv = [sys.executable, "-m", "snakemake", *targets, "--jobs", str(jobs), *extra]
    if profile:
        argv += ["--profile", profile]
    argv += ["--config", f"{SELECT_KEY}={config}"]
    if overrides:
        argv.append(f"{DOTLIST_KEY}=[{', '.join(overrides)}]")
    return argv


@app.command("run")
def run(
    config: RecipeOption,
    overrides: OverridesArg = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel jobs.")] = 8,
    profile: Annotated[str | None, typer.Option(help="Snakemake profile, e.g. profiles/slurm."
                                                )] = None,
    target: Annotated[list[str] | None, typer.Option(
        help="Build only these files (default: the whole pipeline incl. report).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="Show what would run.")] = False,
    verbose: VerboseOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Build the recipe's dataset, packing report and HTML report through Snakemake."""
    if not Path("Snakefile").exists():
        err.print("error: no Snakefile in the current directory\n  fix: run from the sdgflow "
                  "project directory (where Snakefile and configs/ are)")
        raise typer.Exit(2)
    extra = (["-n"] if dry_run else []) + (["--quiet", "rules"] if quiet else []) + \
        (["--verbose"] if verbose else [])
    argv = snakemake_argv(config, overrides or [], jobs, profile, target or ["all"], extra)
    raise typer.Exit(0 if subprocess.call(argv) == 0 else 1)
