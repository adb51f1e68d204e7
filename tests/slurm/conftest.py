"""Fixtures for tests that run Snakemake through ``profiles/slurm`` on a real cluster.

The cluster is NOT started here: ``.ci/run`` (or you) runs
``tests/slurm/cluster.sh start`` first. Without a reachable cluster every test
using ``slurm_cluster`` is skipped with the reason.

Every test collected from this directory is marked ``slurm`` and ``slow``
automatically (local ``pytest -m 'not slow'`` skips them; ``.ci/run`` selects
them with ``-m slurm``).

Helpers for writing tests (see test_slurm_smoke.py)::

    def test_x(slurm_snakemake, tmp_path):
        run = slurm_snakemake.run(tmp_path, "--config", "a=1")    # blocking
        assert run.returncode == 0, run.output
        run.job_ids        # SLURM job ids Snakemake submitted (from its log)
        run.slurm_logs     # {job_id: Path of .snakemake/slurm_logs/.../<id>.log}

        proc = slurm_snakemake.start(tmp_path)                     # background
        job = proc.wait_for_running_job(rule="generate")           # job id, RUNNING
        slurm_scancel(job)
        first = proc.wait()                                        # -> SnakemakeRun
        again = slurm_snakemake.run(tmp_path)          # profile has --rerun-incomplete
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "profiles" / "slurm"
HERE = Path(__file__).resolve().parent

# The profile's first status check comes 20 s after submission; tests shorten
# it. Must stay <= MinJobAge/3 (cluster.sh sets MinJobAge=600) or the plugin
# falls back to sacct, which does not work without accounting.
FAST_STATUS_ARGS = ("--slurm-init-seconds-before-status-checks", "5")

# "Job 3 has been submitted with SLURM jobid 17
#  (log: /w/.snakemake/slurm_logs/rule_generate/0/17.log)."  (one line)
# Group jobs print a UUID instead of the Snakemake job number.
_SUBMIT_RE = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.?\s*$", re.M)


# --------------------------------------------------------------------- pytest
def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.slurm)
            item.add_marker(pytest.mark.slow)


# ------------------------------------------------------------------ cluster
def _run(cmd: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


@dataclass(frozen=True)
class SlurmCluster:
    node: str
    partition: str


@pytest.fixture(scope="session")
def slurm_cluster() -> SlurmCluster:
    """The running cluster, or skip: needs `sinfo` and a controller answering `scontrol ping`."""
    for tool in ("sinfo", "scontrol", "sbatch", "squeue", "scancel"):
        if shutil.which(tool) is None:
            pytest.skip(
                f"SLURM client '{tool}' not installed "
                "(run .ci/slurm-setup.sh, then tests/slurm/cluster.sh start)"
            )
    try:
        ping = _run(["scontrol", "ping"], timeout=20)
    except subprocess.TimeoutExpired:
        pytest.skip(
            "`scontrol ping` timed out: SLURM cluster not up (tests/slurm/cluster.sh start)"
        )
    if ping.returncode != 0 or "UP" not in ping.stdout:
        pytest.skip(
            f"SLURM controller not up (`scontrol ping`: {(ping.stdout + ping.stderr).strip()!r}); "
            "run tests/slurm/cluster.sh start"
        )
    info = _run(["sinfo", "-h", "-N", "-o", "%N|%P|%T"], timeout=20)
    usable = [
        line.split("|")
        for line in info.stdout.splitlines()
        if line.count("|") == 2
        and line.split("|")[2].rstrip("*~#") in {"idle", "mixed", "allocated", "completing"}
    ]
    if not usable:
        pytest.skip(f"no usable SLURM node (sinfo: {info.stdout.strip()!r})")
    node, partition, _ = usable[0]
    return SlurmCluster(node=node, partition=partition.rstrip("*"))


def squeue_state(job_id: str) -> str | None:
    """A job's state as squeue shows it (RUNNING, PENDING, COMPLETED, CANCELLED...) or None."""
    out = _run(["squeue", "-h", "-t", "all", "-j", str(job_id), "-o", "%T"]).stdout.strip()
    return out.splitlines()[0] if out else None


@pytest.fixture
def slurm_scancel(slurm_cluster):
    """scancel(job_id) and wait (bounded) until SLURM reports the job gone/cancelled."""

    def scancel(job_id: str, timeout: float = 60) -> str | None:
        subprocess.run(["scancel", str(job_id)], check=True, timeout=30)
        deadline = time.monotonic() + timeout
        state = squeue_state(job_id)
        while time.monotonic() < deadline:
            state = squeue_state(job_id)
            if state in (None, "CANCELLED", "COMPLETED", "FAILED"):
                break
            time.sleep(0.5)
        return state

    return scancel


# ---------------------------------------------------------------- snakemake
@dataclass
class SnakemakeRun:
    """Outcome of one Snakemake invocation through the SLURM profile."""

    workdir: Path
    returncode: int
    output: str  # stdout + stderr
    job_ids: list[str] = field(default_factory=list)  # in submission order
    slurm_logs: dict[str, Path] = field(default_factory=dict)  # job id -> log file

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def all_slurm_logs(self) -> list[Path]:
        """Every SLURM log under the workdir (all runs so far), not only this run's."""
        return sorted((self.workdir / ".snakemake" / "slurm_logs").rglob("*.log"))


def parse_submissions(text: str) -> tuple[list[str], dict[str, Path]]:
    ids: list[str] = []
    logs: dict[str, Path] = {}
    for m in _SUBMIT_RE.finditer(text):
        ids.append(m.group(1))
        logs[m.group(1)] = Path(m.group(2))
    return ids, logs


def _log_is_for_rule(log: Path, rule: str) -> bool:
    """slurm_logs/rule_<rule>/<wildcards>/<id>.log or slurm_logs/group_<g>_<rule>[_...]/<id>.log"""
    for part in log.parts:
        if part == f"rule_{rule}":
            return True
        if part.startswith("group_") and rule in part.split("_")[2:]:
            return True
    return False


class SnakemakeProcess:
    """A Snakemake run in the background (to scancel one of its jobs mid-flight)."""

    def __init__(self, workdir: Path, cmd: list[str], env: dict[str, str], log_path: Path):
        self.workdir = workdir
        self.cmd = cmd
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(
            cmd, cwd=workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT, text=True
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def submissions(self) -> tuple[list[str], dict[str, Path]]:
        return parse_submissions(self.output())

    def wait_for_running_job(
        self, rule: str | None = None, timeout: float = 180, min_runtime: float = 0
    ) -> str:
        """Id of a submitted job that SLURM reports RUNNING; `rule` filters on the log path
        (rule_<rule>/ or group_<g>_<rules>/). Waits `min_runtime` more seconds after it starts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"snakemake exited ({self.proc.returncode}) before a job ran:\n"
                    + self.output()[-4000:]
                )
            _, logs = self.submissions()
            for job_id, log in logs.items():
                if rule is not None and not _log_is_for_rule(log, rule):
                    continue
                if squeue_state(job_id) == "RUNNING":
                    if min_runtime:
                        time.sleep(min_runtime)
                    return job_id
            time.sleep(0.5)
        raise AssertionError(
            f"no RUNNING SLURM job{f' for rule {rule}' if rule else ''} within {timeout}s:\n"
            + self.output()[-4000:]
        )

    def wait(self, timeout: float = 600) -> SnakemakeRun:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        finally:
            self._log.close()
        text = self.output()
        ids, logs = parse_submissions(text)
        return SnakemakeRun(self.workdir, self.proc.returncode, text, ids, logs)

    def kill(self) -> None:
        """SIGTERM (Snakemake then scancels its jobs), SIGKILL after 30 s."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@dataclass
class SlurmSnakemake:
    """Runs `python -m snakemake --profile profiles/slurm` in a workdir.

    The partition is the profile's (`debug`, as cluster.sh names it); do not
    pass --default-resources here: on the command line it REPLACES the
    profile's whole default-resources block. Use --set-resources instead.

    Uses the test's own interpreter; the jobs inherit the environment
    (sbatch --export=ALL), with the repo's src/ on PYTHONPATH so `sdgflow`
    imports on the "compute node" even without an installed package.
    """

    cluster: SlurmCluster
    profile: Path = PROFILE
    extra_args: tuple[str, ...] = FAST_STATUS_ARGS
    started: list[SnakemakeProcess] = field(default_factory=list)

    def command(self, *args: str, jobs: int = 4) -> list[str]:
        return [
            sys.executable, "-m", "snakemake",
            "--profile", str(self.profile),
            "--jobs", str(jobs),
            *self.extra_args,
            *args,
        ]  # fmt: skip

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        src = str(REPO / "src")
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.update(extra or {})
        return env

    def run(
        self,
        workdir: Path,
        *args: str,
        jobs: int = 4,
        timeout: float = 600,
        env: dict[str, str] | None = None,
    ) -> SnakemakeRun:
        proc = self.start(workdir, *args, jobs=jobs, env=env)
        return proc.wait(timeout=timeout)

    def start(
        self, workdir: Path, *args: str, jobs: int = 4, env: dict[str, str] | None = None
    ) -> SnakemakeProcess:
        workdir = Path(workdir)
        n = sum(1 for _ in workdir.glob("snakemake-run-*.log"))
        proc = SnakemakeProcess(
            workdir,
            self.command(*args, jobs=jobs),
            self.env(env),
            workdir / f"snakemake-run-{n}.log",
        )
        self.started.append(proc)
        return proc


@pytest.fixture
def slurm_snakemake(slurm_cluster):
    """Runs Snakemake through profiles/slurm; kills leftover runs (so their jobs) at teardown."""
    runner = SlurmSnakemake(cluster=slurm_cluster)
    yield runner
    for proc in runner.started:
        proc.kill()
        if not proc._log.closed:
            proc._log.close()
