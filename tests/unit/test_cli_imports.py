"""The CLI's import boundary: `sdgflow --help` (and each command's) must not import the openai
client, pyarrow, numpy, pandas or snakemake; a command imports its heavy code when it runs.

Each check runs in a fresh interpreter, since this test process has imported all of them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("openai", "pyarrow", "numpy", "pandas", "snakemake")

# Runs the CLI in-process with the given argv, then prints the top-level modules it imported.
PROBE = """
import json, sys
argv = json.loads(sys.argv[1])
import sdgflow.cli
if argv is not None:
    from typer.testing import CliRunner
    result = CliRunner().invoke(sdgflow.cli.app, argv)
    if result.exit_code != 0:
        sys.exit(f"exit {result.exit_code}: {result.output}")
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def imported_after(argv: list[str] | None, cwd: Path | None = None) -> set[str]:
    """Top-level packages in sys.modules after importing the CLI (and running `argv`)."""
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], cwd=cwd,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def command_names() -> list[list[str]]:
    """Every command path of the app: [["preview"], ..., ["config", "show"], ...]."""
    import typer.main

    from sdgflow.cli import app

    def walk(group: object, prefix: list[str]) -> list[list[str]]:
        paths = []
        for name, cmd in getattr(group, "commands", {}).items():
            paths.append([*prefix, name])
            paths += walk(cmd, [*prefix, name])
        return paths

    return walk(typer.main.get_command(app), [])


def test_importing_the_cli_imports_no_heavy_package() -> None:
    assert set(HEAVY) & imported_after(None) == set()


def test_every_command_is_covered() -> None:
    names = {" ".join(path) for path in command_names()}
    assert {"preview", "run", "project", "validate", "pack", "serve-sim", "report", "inspect",
            "config", "config show", "config hash", "compare"} <= names


@pytest.mark.parametrize("command", [[], *command_names()], ids=lambda c: " ".join(c) or "app")
def test_help_imports_no_heavy_package(command: list[str]) -> None:
    assert set(HEAVY) & imported_after([*command, "--help"]) == set()


def test_python_dash_m_help_lists_every_command() -> None:
    done = subprocess.run([sys.executable, "-m", "sdgflow", "--help"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    for name in ("preview", "run", "project", "validate", "pack", "config", "serve-sim",
                 "report", "inspect"):
        assert name in done.stdout


@pytest.mark.parametrize("command", [["config", "show"], ["config", "hash", "--json"]])
def test_config_commands_load_the_recipe_without_heavy_packages(
        project: Path, command: list[str]) -> None:
    modules = imported_after([*command, "-c", "customer_support_tools"], cwd=project)
    assert "omegaconf" in modules  # the recipe was really loaded
    assert set(HEAVY) & modules == set()
