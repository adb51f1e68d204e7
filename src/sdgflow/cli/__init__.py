"""`sdgflow` console script: importing a command module registers its commands on `app`.

Every command module is imported for `sdgflow --help`, so at module level they import only
typer, rich and cheap option types; a command imports its own stack (recipe loading, the openai
client, pyarrow, numpy, snakemake...) inside its function. tests/unit/test_cli_imports.py keeps
that boundary.
"""

# Command modules register themselves on import; `commands` is the one place they join.
from sdgflow.cli import commands  # noqa: F401
from sdgflow.cli.app import app


def main() -> None:
    app()
