"""Imports every command module so each registers on the shared app."""

from sdgflow.cli import config_cmd, run  # noqa: F401
