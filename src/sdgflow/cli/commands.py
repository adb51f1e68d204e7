"""Imports every command module so each registers on the shared app."""

from sdgflow.cli import (  # noqa: F401
    config_cmd,
    pack,
    preview,
    project,
    run,
    serve_sim,
    validate,
)
