"""Imports every command module so each registers on the shared app."""

from sdgflow.cli import (  # noqa: F401
    config_cmd,
    inspect,
    pack,
    preview,
    project,
    report,
    run,
    serve_sim,
    validate,
)
