"""`sdgflow` console script: importing a command module registers its commands on `app`."""

from sdgflow.cli.app import app

# Command modules register themselves on import; keep this list the single place commands join.
from sdgflow.cli import commands  # noqa: F401,E402


def main() -> None:
    app()
