"""The one typer application every `sdgflow` command registers itself on."""

import typer

app = typer.Typer(
    name="sdgflow",
    help="Declarative, reproducible tool-calling SFT data generation on Snakemake.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
