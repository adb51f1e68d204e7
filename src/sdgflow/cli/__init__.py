"""`sdgflow` console script: importing a command module registers its commands on `app`."""

# Command modules register themselves on import; `commands` is the one place they join.
from sdgflow.cli import commands  # noqa: F401
from sdgflow.cli.app import app


def main() -> None:
    app()
