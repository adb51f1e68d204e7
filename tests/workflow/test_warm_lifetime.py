"""The warm runner does not outlive the build that started it (issue 17)."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from sdgflow.jobs import warm
from tests.harness import snakemake

TARGET = "output/sdg/customer_support_tool_sft.jsonl"


def servers_under(runtime: Path) -> list[psutil.Process]:
    """Live warm servers whose socket is in `runtime` (their command line names it)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if "sdgflow.jobs.warm_server" in cmdline and str(runtime) in " ".join(cmdline) \
                and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def test_no_warm_server_outlives_the_build(project: Path, runtime: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = project / "configs" / "customer_support_tools.yaml"
    recipe.write_text(recipe.read_text().replace("num_records: 100\n", "num_records: 20\n", 1))
    for name in (warm.IDLE_ENV, warm.BUILD_ENV, warm.WARM_ENV, "SLURM_JOB_ID"):
        monkeypatch.delenv(name, raising=False)  # the defaults a user gets
    run = snakemake(project, TARGET, env={warm.RUNTIME_ENV: str(runtime)})
    assert run.returncode == 0, run.output
    assert "in-process" not in run.output  # every job ran in the warm runner ...
    [log] = runtime.glob("sdgflow-warm-*/*.log")
    assert log.read_text().count(": started") == 1  # ... one server, up for the whole build
    deadline = time.monotonic() + warm.DEFAULT_IDLE_S + 15
    while servers := servers_under(runtime):
        assert time.monotonic() < deadline, f"still running after the build: {servers}"
        time.sleep(0.2)
    assert warm.server_pids(runtime) == []
    assert log.read_text().count(": exiting, no build alive") == 1
