"""Test harness: real snakemake runs in a scratch project, and the simulator over HTTP.

Tests count requests where they arrive (the simulator's /sim/stats), never inside our client.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class SimServer:
    """`sdgflow serve-sim` in its own process on a free loopback port."""

    def __init__(self, workdir: Path, *knobs: str) -> None:
        self.ready = workdir / f"sim-ready-{time.monotonic_ns()}.json"
        self.log = workdir / "sim-requests.jsonl"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sdgflow", "serve-sim", "--port", "0", "--ready-file",
             str(self.ready), "--api-key", SIM_KEY, "--log-requests", str(self.log), *knobs],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not self.ready.exists() or not self.ready.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve-sim did not start: {self.proc.stderr.read()}")
            time.sleep(0.05)  # polling for a file the server writes once it listens
        self.port = json.loads(self.ready.read_text())["port"]
        self.url = f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/sim/stats", timeout=10) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/sim/reset", method="POST", data=b"")
        urllib.request.urlopen(request, timeout=10).close()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


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
