"""Test harness: real snakemake runs in a scratch project, and the simulator over HTTP.

Tests count requests where they arrive (the simulator's /sim/stats), never inside our client.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sdgflow.simulator.process import SimProcess

SIM_KEY_ENV = "SDGFLOW_SIM_KEY"
SIM_KEY = "sim-test-key-not-secret"
_RULE_LINE = re.compile(r"^\s*(?:local)?rule (\w+):", re.MULTILINE)


@dataclass
class Run:
    returncode: int
    output: str

    @property
    def rules(self) -> collections.Counter[str]:
        """How many jobs of each rule snakemake started."""
        return collections.Counter(_RULE_LINE.findall(self.output))


def snakemake(project: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float = 300, cores: int = 4) -> Run:
    argv = [sys.executable, "-m", "snakemake", "--cores", str(cores), *args]
    full_env = {**os.environ, **(env or {})}
    full_env.pop("SDGFLOW_RECIPE", None)
    done = subprocess.run(argv, cwd=project, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    return Run(done.returncode, done.stdout + done.stderr)


class SimServer(SimProcess):
    """The simulator requiring the tests' key."""

    def __init__(self, workdir: Path, *knobs: str) -> None:
        super().__init__(workdir, *knobs, api_key=SIM_KEY)


def point_recipe_at(project: Path, recipe: str, sim: SimServer, extra: str = "") -> Path:
    """Rewrite a recipe in the scratch project to call the HTTP simulator as provider `sim`."""
    path = project / "configs" / f"{recipe}.yaml"
    text = path.read_text().replace("provider: offline\n", "provider: sim\n", 1)
    text += (f"providers:\n  - name: sim\n    endpoint: {sim.url}/v1\n"
             f"    api_key: {SIM_KEY_ENV}\n{extra}")
    path.write_text(text)
    return path


def sim_env() -> dict[str, str]:
    return {SIM_KEY_ENV: SIM_KEY}


def with_validation(recipe_text: str, lines: str) -> str:
    """The recipe with `lines` (indented keys) under its `validation:` block, added if it has
    none: a second `validation:` key is a config error (the YAML would drop the first)."""
    if "\nvalidation:\n" in recipe_text:
        return recipe_text.replace("\nvalidation:\n", f"\nvalidation:\n{lines}", 1)
    return recipe_text.replace("output_projection:", f"validation:\n{lines}output_projection:",
                               1)
