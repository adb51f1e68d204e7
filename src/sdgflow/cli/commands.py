"""Imports every command module so each registers on the shared app."""

from sdgflow.cli import config_cmd, preview, project, run, serve_sim, validate  # noqa: F401
