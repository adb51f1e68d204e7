"""Imports every command module so each registers on the shared app."""

from sdgflow.cli import (  # noqa: F401
    batch,
    compare,
    config_cmd,
    inspect,
    pack,
    plan,
    preview,
    project,
    report,
    run,
    serve_sim,
    validate,
)
