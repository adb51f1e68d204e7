"""Shared helpers for the sdgflow benches: scratch projects, the HTTP simulator, timed runs.

Every bench builds a throw-away copy of the project (Snakefile, rules, scripts, configs, data,
report) in a temp dir, edits the copy's recipe, and runs the real `snakemake` on it. Requests are
counted where they arrive (the simulator's `/sim/stats`), never inside our client.

    from bench.common import Sim, ScratchProject, run_snakemake, print_table, machine_info
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdgflow.jobs.warm import server_pids
from sdgflow.simulator.process import SimProcess

REPO = Path(__file__).resolve().parents[1]
# What a scratch project copies from the repo (the tests' fixture copies the same, plus envs/
# which rules name in `conda:`); missing entries are skipped.
PROJECT_FILES = ("Snakefile", "rules", "configs", "data", "report", "envs")
RECIPE = "customer_support_tools"
TARGET = "output/sdg/customer_support_tool_sft.jsonl"
WORK = Path("output/sdg/.sdgflow") / RECIPE
SIM_KEY_ENV = "SDGFLOW_SIM_KEY"
SIM_KEY = "sim-bench-key-not-secret"
_RULE_LINE = re.compile(r"^\s*(?:local)?rule (\w+):", re.MULTILINE)
_SCRUBBED_ENV = ("SDG_OUTPUT_DIR", "NEMO_RUN_DIR", "SDGFLOW_RECIPE")


# --------------------------------------------------------------------------- machine / output


def machine_info() -> str:
    """`nproc` and the CPU model name, for labelling figures."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 0
    return f"{cpus} CPUs (nproc), {model}, Python {sys.version.split()[0]}{slurm_warning()}"


def slurm_warning() -> str:
    """The SLURM executor plugin runs `scontrol show config` (10 s timeout) whenever Snakemake
    starts; with scontrol installed but no controller answering, every run waits for it."""
    if shutil.which("scontrol") is None:
        return ""
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        ping = None
    if ping is not None and ping.returncode == 0 and "UP" in ping.stdout:
        return ""
    return ("; WARNING: scontrol is installed but no SLURM controller answers, so every "
            "snakemake start waits ~10 s (start it: tests/slurm/cluster.sh start)")


def load_average() -> str:
    """1/5/15-minute load averages: other work on the machine skews every wall time."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f}"


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(headers: list[str], rows: list[list[Any]], title: str | None = None) -> None:
    """A plain fixed-width table (copy-pastes into Markdown as a code block)."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    if title:
        print(f"\n{title}")
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    sys.stdout.flush()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- simulator


class Sim(SimProcess):
    """The simulator with a latency/slot model, requiring the bench's key.

    Start it BEFORE measuring a snakemake run: its CPU never lands in RUSAGE_CHILDREN of the
    bench while it is alive (only reaped children count), and `cpu_seconds()` reports it apart.
    """

    def __init__(self, workdir: Path, latency: float, slots: int, *knobs: str) -> None:
        self.latency, self.slots = latency, slots
        super().__init__(workdir, "--latency", str(latency), "--slots", str(slots), *knobs,
                         api_key=SIM_KEY)


def sim_env() -> dict[str, str]:
    return {SIM_KEY_ENV: SIM_KEY}


# --------------------------------------------------------------------------- scratch project


class ScratchProject:
    """A copy of the project in a temp dir (removed on exit unless `keep`)."""

    def __init__(self, keep: Path | None = None, prefix: str = "sdgflow-bench-") -> None:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            self.root, self._owned = keep.resolve(), False
        else:
            self.root, self._owned = Path(tempfile.mkdtemp(prefix=prefix)), True
        for name in PROJECT_FILES:
            source, dest = REPO / name, self.root / name
            if dest.exists() or not source.exists():
                continue
            if source.is_dir():
                shutil.copytree(source, dest)
            else:
                shutil.copy(source, dest)

    def recipe_path(self, recipe: str = RECIPE) -> Path:
        return self.root / "configs" / f"{recipe}.yaml"

    @property
    def work(self) -> Path:
        return self.root / WORK

    def edit(self, old: str, new: str, recipe: str = RECIPE) -> None:
        """Replace the first `old` in the recipe; raise if it is not there (the recipe moved)."""
        path = self.recipe_path(recipe)
        text = path.read_text()
        if old not in text:
            raise RuntimeError(f"{path.name}: expected text not found: {old!r}")
        path.write_text(text.replace(old, new, 1))

    def configure(self, *, records: int, shard_size: int | None = None,
                  max_parallel_requests: int | None = None, sim: Sim | None = None,
                  recipe: str = RECIPE) -> Path:
        """Size the recipe, give its model a budget, point its provider at the HTTP sim."""
        path = self.recipe_path(recipe)
        text = path.read_text()
        size = f"num_records: {records}\n"
        if shard_size:
            size += f"shard_size: {shard_size}\n"
        text, n = re.subn(r"^num_records: .*\n", size, text, count=1, flags=re.MULTILINE)
        if n != 1:
            raise RuntimeError(f"{path.name}: no top-level num_records line")
        if max_parallel_requests:
            text, n = re.subn(r"(\n    inference_parameters:\n)",
                              rf"\1      max_parallel_requests: {max_parallel_requests}\n",
                              text, count=1)
            if n != 1:
                raise RuntimeError(f"{path.name}: no model inference_parameters block")
        if sim is not None:
            text = re.sub(r"^provider: \w+\n", "provider: sim\n", text, count=1,
                          flags=re.MULTILINE)
            text += (f"providers:\n  - name: sim\n    endpoint: {sim.url}/v1\n"
                     f"    api_key: {SIM_KEY_ENV}\n")
        path.write_text(text)
        return path

    def cleanup(self) -> None:
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ScratchProject:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()


# --------------------------------------------------------------------------- timed runs


@dataclass
class Timed:
    returncode: int
    wall: float
    cpu_user: float
    cpu_sys: float
    output: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu(self) -> float:
        return self.cpu_user + self.cpu_sys

    @property
    def rules(self) -> Counter[str]:
        """How many jobs of each rule snakemake started (or would start, with -n)."""
        return Counter(_RULE_LINE.findall(self.output))


def snakemake_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env.update(sim_env())
    env.update(extra or {})
    return env


def snakemake_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", *args]


def run_timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None,
              timeout: float = 3600, log_file: Path | None = None) -> Timed:
    """Run a command to completion; wall time and the CPU of its whole (reaped) process tree.

    CPU comes from RUSAGE_CHILDREN deltas: it covers the child and every descendant it waited
    for (snakemake waits for its jobs), and nothing the bench started but has not reaped (the
    simulator). Stages run in forks of sdgflow's warm runner, which is not our child: each run
    gets its own runtime dir, so it starts cold like a first run, and the runner's own CPU plus
    that of the children it reaped (/proc/PID/stat) is added before it is stopped (it is kept
    past the build's end for that: SDGFLOW_WARM_IDLE). Output goes
    to `log_file` (or is captured) so big runs do not fill a pipe.
    """
    runtime = Path(tempfile.mkdtemp(prefix="sdgwarm-", dir="/tmp"))
    # The runner would exit with the build; it must stay until its CPU is read (then stopped).
    env = {**(env if env is not None else os.environ), "SDGFLOW_RUNTIME_DIR": str(runtime),
           "SDGFLOW_WARM_IDLE": "3600"}
    owned_log = log_file is None
    if log_file is None:
        handle, name = tempfile.mkstemp(prefix="sdgflow-bench-", suffix=".log")
        os.close(handle)
        log_file = Path(name)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    started_unix = time.time()
    main_cpu = None
    with log_file.open("w") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.monotonic() + timeout
        watched = _watch(proc.pid)
        while proc.poll() is None:
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise TimeoutError(f"{argv[:4]} ran past {timeout}s")
            main_cpu = _own_cpu(watched, main_cpu)
            time.sleep(0.1)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    warm_user, warm_sys = stop_warm_runners(runtime)
    output = log_file.read_text(errors="replace")
    if owned_log:
        log_file.unlink()
    return Timed(proc.returncode, wall, after.ru_utime - before.ru_utime + warm_user,
                 after.ru_stime - before.ru_stime + warm_sys, output,
                 {"main_cpu": main_cpu, "started_unix": started_unix,
                  "ended_unix": started_unix + wall, "warm_cpu": warm_user + warm_sys})


def stop_warm_runners(runtime: Path) -> tuple[float, float]:
    """User and system CPU of the warm runners under `runtime` and their reaped children."""
    user = system = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in server_pids(runtime):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            # fields[0] is the state (stat field 3): utime, stime, cutime, cstime are 14-17.
            utime, stime, cutime, cstime = (int(x) / tick for x in fields[11:15])
            user, system = user + utime + cutime, system + stime + cstime
            os.kill(pid, signal.SIGTERM)
        except (OSError, IndexError, ValueError):
            continue
    shutil.rmtree(runtime, ignore_errors=True)
    return user, system


def _watch(pid: int) -> Any:
    try:
        import psutil

        return psutil.Process(pid)
    except Exception:
        return None


def _own_cpu(process: Any, last: float | None) -> float | None:
    """CPU of the main process itself (not its jobs), sampled until it exits (a lower bound)."""
    if process is None:
        return last
    try:
        times = process.cpu_times()
        return times.user + times.system
    except Exception:
        return last


def run_snakemake(project: ScratchProject | Path, *args: str, jobs: int = 8,
                  env: dict[str, str] | None = None, timeout: float = 3600,
                  log_file: Path | None = None) -> Timed:
    root = project.root if isinstance(project, ScratchProject) else project
    return run_timed(snakemake_argv("-j", str(jobs), *args), root, snakemake_env(env),
                     timeout, log_file)


def require_ok(run: Timed, what: str) -> Timed:
    """Stop the bench with the tail of snakemake's output when a run failed (not a timing check)."""
    if run.returncode != 0:
        tail = "\n".join(run.output.splitlines()[-40:])
        raise SystemExit(f"{what} failed (exit {run.returncode}):\n{tail}")
    return run
