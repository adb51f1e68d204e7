"""Generation efficiency: end-to-end `snakemake -j8` against `sdgflow serve-sim`.

For each (latency, slots) shape: a scratch copy of the project, the customer_support_tools
recipe with `max_parallel_requests: SLOTS` pointed at a fresh simulator on 127.0.0.1, then

    snakemake -j8 <training JSONL> --resources llm_slots=SLOTS

timed as a whole. The limit is records x latency / slots (the endpoint never idle, no overhead);
ratio = limit / wall. Prints figures only; nothing here fails on timing.

    python bench/bench_generation.py                      # (0.5 s, 64 slots), 4000 records
    python bench/bench_generation.py --shapes all         # + (0.05 s, 16) and (2 s, 256)
    python bench/bench_generation.py --records 400 --latency 0.05 --slots 16   # quick check
    python bench/bench_generation.py --peer-python /path/to/venv/bin/python    # + peer column
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    SIM_KEY,
    SIM_KEY_ENV,
    TARGET,
    ScratchProject,
    Sim,
    Timed,
    load_average,
    log,
    machine_info,
    print_table,
    require_ok,
    run_snakemake,
    run_timed,
    snakemake_env,
)

DEFAULT_SHAPE = (0.5, 64)
ALL_SHAPES = [(0.5, 64), (0.05, 16), (2.0, 256)]
# What the issue reports for the peer tool (Data Designer) on the same shapes: ratio, CPU/1000.
PEER_REPORTED = {(0.5, 64): (0.83, 5.0), (0.05, 16): (0.43, None)}
MIN_LIMIT_S = 30.0


@dataclass
class Result:
    latency: float
    slots: int
    records: int
    shards: int
    shard_size: int
    wall: float
    window: float
    limit: float
    busy: float
    cpu: float
    main_cpu: float | None
    jobs: int
    generate_jobs: int
    sim_cpu: float | None
    requests: int
    unique: int
    repeated: int
    max_in_flight: int
    phases: dict[str, float | None]
    noop: Timed | None = None
    client_ms: float | None = None
    peer_ratio: str = "-"

    @property
    def ratio(self) -> float:
        return self.limit / self.wall

    @property
    def window_ratio(self) -> float:
        return self.limit / self.window if self.window else float("nan")

    @property
    def utilisation(self) -> float:
        return self.busy / (self.slots * self.window) if self.window else float("nan")

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu / self.records * 1000


def records_for(latency: float, slots: int, jobs: int) -> int:
    """Fewest records (a multiple of 2 x jobs x 50) whose limit is >= MIN_LIMIT_S."""
    step = 2 * jobs * 50
    return math.ceil(MIN_LIMIT_S * slots / latency / step) * step


def timeline(entries: list[dict[str, Any]], latency: float, slots: int, started: float,
             ended: float) -> dict[str, float | None]:
    """Where the wall time went, from the simulator's per-request log (unix times).

    A request answered at t was served during [t - latency, t] (no jitter, no queueing when
    max_in_flight <= slots). `full` is the time at >= 90% of the slots in use.
    """
    ok = sorted(e["unix_time"] for e in entries if e.get("status") == "200")
    if not ok:
        return {}
    events = sorted([(t - latency, 1) for t in ok] + [(t, -1) for t in ok])
    threshold = max(1, math.ceil(0.9 * slots))
    level, first_full, last_full, full = 0, None, None, 0.0
    for (t, step), (t_next, _) in zip(events, [*events[1:], (events[-1][0], 0)], strict=True):
        level += step
        if level >= threshold:
            first_full = t if first_full is None else first_full
            last_full = t_next
            full += t_next - t
    first, last = ok[0] - latency, ok[-1]
    return {
        "startup": first - started,
        "ramp": (first_full - first) if first_full is not None else None,
        "full": full,
        "tail": (last - last_full) if last_full is not None else None,
        "after": ended - last,
    }


def run_shape(latency: float, slots: int, records: int, shard_size: int, jobs: int,
              target: str, keep: Path | None) -> Result:
    with ScratchProject(keep) as project, Sim(project.root, latency, slots) as sim:
        project.configure(records=records, shard_size=shard_size,
                          max_parallel_requests=slots, sim=sim)
        log(f"shape ({latency}s, {slots} slots): {records} records, shard_size "
            f"{shard_size}, in {project.root}")
        sim_cpu_before = sim.cpu_seconds()
        run = run_snakemake(project, target, "--resources", f"llm_slots={slots}",
                            jobs=jobs, log_file=project.root / "bench-snakemake.log",
                            timeout=max(1800, 20 * records * latency / slots))
        require_ok(run, "snakemake")
        stats = sim.stats()
        sim_cpu_after = sim.cpu_seconds()
        phases = timeline(sim.answered(), latency, slots, run.extra["started_unix"],
                          run.extra["ended_unix"])
        # Floors, measured now on the same machine: what snakemake alone costs with nothing
        # to do, and what the openai client alone costs a request.
        noop = require_ok(run_snakemake(project, target, "--resources", f"llm_slots={slots}",
                                        jobs=jobs), "no-op snakemake")
        client_ms = client_floor(project, sim, min(records, 1000), slots)
    window = (stats["last_response_at"] or 0) - (stats["first_request_at"] or 0)
    sim_cpu = (sim_cpu_after - sim_cpu_before
               if sim_cpu_after is not None and sim_cpu_before is not None else None)
    return Result(
        latency=latency, slots=slots, records=records,
        shards=math.ceil(records / shard_size), shard_size=shard_size, wall=run.wall,
        window=window, limit=records * latency / slots, busy=stats["busy_slot_seconds"],
        cpu=run.cpu, main_cpu=run.extra.get("main_cpu"), jobs=sum(run.rules.values()),
        generate_jobs=run.rules.get("generate", 0), sim_cpu=sim_cpu,
        requests=stats["requests"], unique=stats["fingerprints_completed"],
        repeated=stats["repeated_completed"], max_in_flight=stats["max_in_flight"],
        phases=phases, noop=noop, client_ms=client_ms)


CLIENT_FLOOR = Path(__file__).with_name("client_floor.py")


def client_floor(project: ScratchProject, sim: Sim, requests: int, slots: int) -> float | None:
    """CPU ms per request of a bare AsyncOpenAI client sending the run's prompts."""
    rows = sorted(project.root.glob("output/**/rows/shard-*.parquet"))
    if not rows:
        return None
    out = subprocess.run(
        [sys.executable, str(CLIENT_FLOOR), "--recipe", str(project.recipe_path()),
         "--rows", str(rows[0]), "--base-url", f"{sim.url}/v1", "--requests", str(requests),
         "--concurrency", str(slots)],
        cwd=project.root, env=snakemake_env(), capture_output=True, text=True, check=False)
    if out.returncode != 0:
        log("client floor failed:\n" + out.stderr[-2000:])
        return None
    return float(json.loads(out.stdout.splitlines()[-1])["cpu_ms_per_request"])


# --------------------------------------------------------------------------- peer (optional)

PEER_DRIVER = Path(__file__).with_name("peer_data_designer.py")


def peer_available(python: str | None) -> bool:
    if not python:
        return False
    done = subprocess.run([python, "-c", "import data_designer.interface"], capture_output=True)
    if done.returncode != 0:
        log(f"peer: {python} cannot import data_designer: "
            f"{' '.join(done.stderr.decode(errors='replace').strip().splitlines()[-1:])}")
    return done.returncode == 0


def run_peer(python: str, latency: float, slots: int, records: int, keep: Path | None) -> str:
    """The peer's ratio on the same shape and simulator, or why it could not run.

    `bench/peer_data_designer.py` runs under `python` (the peer's venv) against a fresh
    simulator with the same budget; wall and CPU are those of that whole process (start-up,
    imports, create() with its profiling), as snakemake's are for sdgflow. Requests are counted
    at the simulator: expected = records x LLM columns + one health-check chat request per
    checked model (Data Designer's health check is a real completion, unlike sdgflow's). The
    window (for `win`) is the generation phase from the per-request log, health checks left
    out. Data Designer sends no per-record `seed`, so records whose seed row and sampled
    categories coincide send identical bodies: the simulator counts those as repeats
    (`same-body`), though each is a distinct record requested once, not a re-sent call.
    """
    with ScratchProject(keep) as project, Sim(project.root, latency, slots) as sim:
        recipe = project.configure(records=records)
        recipe.write_text(recipe.read_text().replace("${oc.env:PWD}", str(project.root)))
        log(f"peer: {python} on ({latency}s, {slots} slots), {records} records")
        run = run_timed([python, str(PEER_DRIVER), str(recipe), f"{sim.url}/v1", str(records),
                         str(slots)], project.root, {**os.environ, SIM_KEY_ENV: SIM_KEY},
                        timeout=max(1800, 20 * records * latency / slots),
                        log_file=project.root / "bench-peer.log")
        stats = sim.stats()
        answered = sorted(e["unix_time"] for e in sim.answered() if e.get("status") == "200")
        if run.returncode != 0:
            tail = run.output.strip().splitlines()[-15:] if run.output else ["?"]
            log("peer failed:\n" + "\n".join(tail))
            return f"failed: {tail[-1][:60]}"
        report = next((json.loads(line) for line in reversed(run.output.splitlines())
                       if line.startswith('{"create_wall"')), None)
        if report is None:
            return "failed: no report line from the peer driver"
    limit = records * latency / slots
    expected = records * len(report["llm_columns"]) + report["health_checks"]
    generation = answered[report["health_checks"]:]
    window = generation[-1] - (generation[0] - latency) if generation else 0.0
    log(f"peer: data-designer {report['version']}: wall {run.wall:.2f}s (create() "
        f"{report['create_wall']:.2f}s), window {window:.2f}s, CPU {run.cpu:.2f}s, "
        f"{report['rows']} rows, filled {report['filled']}, requests {stats['requests']} "
        f"(expected {expected}), completed {stats['completed']}, max in flight "
        f"{stats['max_in_flight']}, same-body repeats {stats['repeated_completed']}")
    check = "" if stats["requests"] == expected and report["rows"] == records else " MISMATCH"
    win = f"{limit / window:.2f}" if window > 0 else "-"
    return (f"{limit / run.wall:.2f} win {win} ({run.cpu / records * 1000:.1f} CPU-s/1k, "
            f"req {stats['requests']}/{expected}{check}, {stats['repeated_completed']} "
            "same-body)")


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", choices=["default", "all"], default="default")
    parser.add_argument("--latency", type=float, help="one custom shape: seconds per request")
    parser.add_argument("--slots", type=int, help="one custom shape: simulator slots = budget")
    parser.add_argument("--records", type=int,
                        help="records per shape (default: 4000 for the default shape, else the "
                        "fewest giving a limit >= 30 s)")
    parser.add_argument("--jobs", type=int, default=8, help="snakemake -j (default 8)")
    parser.add_argument("--shards-per-job", type=int, default=1,
                        help="shards = jobs x this (default 1: one wave of generate jobs)")
    parser.add_argument("--target", default=TARGET,
                        help="snakemake target (default: the training JSONL; 'all' for the "
                        "default target with packing and report)")
    parser.add_argument("--peer-python", help="interpreter of a venv where data_designer imports")
    parser.add_argument("--keep", type=Path, help="keep the scratch project here (one shape)")
    args = parser.parse_args()

    if args.latency is not None or args.slots is not None:
        shapes = [(args.latency if args.latency is not None else DEFAULT_SHAPE[0],
                   args.slots or DEFAULT_SHAPE[1])]
    elif args.shapes == "all":
        shapes = ALL_SHAPES
    else:
        shapes = [DEFAULT_SHAPE]
    peer = args.peer_python if peer_available(args.peer_python) else None
    target = "all" if args.target == "all" else args.target

    results = []
    for latency, slots in shapes:
        if args.records:
            records = args.records
        elif (latency, slots) == DEFAULT_SHAPE:
            records = 4000
        else:
            records = records_for(latency, slots, args.jobs)
        shard_size = math.ceil(records / (args.jobs * args.shards_per_job))
        result = run_shape(latency, slots, records, shard_size, args.jobs, target, args.keep)
        if peer:
            result.peer_ratio = run_peer(peer, latency, slots, records, None)
        results.append(result)
        log(f"done: wall {result.wall:.1f}s, ratio {result.ratio:.2f}")

    print(f"\nmachine: {machine_info()}; {load_average()} at the end")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; snakemake -j{args.jobs} {target} "
          "--resources llm_slots=SLOTS; simulator on 127.0.0.1")
    rows = []
    for r in results:
        reported = PEER_REPORTED.get((r.latency, r.slots))
        rows.append([
            r.latency, r.slots, r.records, r.shards, r.shard_size, r.wall, r.window, r.limit,
            r.ratio, r.window_ratio, r.utilisation, r.cpu_per_1000,
            f"{r.requests}/{r.unique}", r.repeated, r.max_in_flight,
            reported[0] if reported else "-",
            reported[1] if reported and reported[1] is not None else "-",
            r.peer_ratio if peer else "-",
        ])
    print_table(
        ["latency", "slots", "records", "shards", "shard_size", "wall_s", "window_s", "limit_s",
         "ratio", "win_ratio", "slot_util", "cpu_s/1k", "req/unique", "repeats", "max_infl",
         "peer_ratio(issue)", "peer_cpu/1k(issue)", "peer_ratio(measured)"],
        rows, title="Generation efficiency (targets: ratio >= 0.95, cpu_s/1k <= 1, repeats 0)")
    if not peer:
        print("peer: not available (pass --peer-python PATH to a venv with data-designer)")

    rows = []
    for r in results:
        p = r.phases
        job_cpu = r.cpu - r.main_cpu if r.main_cpu is not None else None
        rows.append([
            r.latency, r.slots, p.get("startup"), p.get("ramp"), p.get("full"), p.get("tail"),
            p.get("after"), r.cpu, r.main_cpu, job_cpu, r.jobs, r.generate_jobs,
            job_cpu / r.jobs if job_cpu is not None and r.jobs else None, r.sim_cpu,
        ])
    print_table(
        ["latency", "slots", "startup_s", "ramp_s", "full_s", "tail_s", "after_s", "cpu_s",
         "main_cpu_s", "jobs_cpu_s", "jobs", "gen_jobs", "cpu_s/job", "sim_cpu_s"],
        rows, title="Where the time goes (startup: snakemake start -> first request; ramp: "
        "-> 90% of slots busy; full: time at >= 90%; tail: last time at 90% -> last "
        "response; after: last response -> snakemake exit)")
    print_floors(results)


def print_floors(results: list[Result]) -> None:
    """What no implementation driven by `snakemake` through the openai client can beat here.

    A run pays at least what the same snakemake command pays with every output up to date
    (import, parse, DAG, exit), and each request at least the bare client's CPU. So
    ratio <= limit / (limit + noop wall) and cpu/1k >= (noop CPU + records x client CPU) / 1k.
    """
    rows = []
    for r in results:
        noop_wall = r.noop.wall if r.noop else None
        noop_cpu = r.noop.cpu if r.noop else None
        ceiling = r.limit / (r.limit + noop_wall) if noop_wall is not None else None
        cpu_floor = (noop_cpu + r.records * r.client_ms / 1000) / r.records * 1000 \
            if noop_cpu is not None and r.client_ms is not None else None
        rows.append([r.latency, r.slots, r.records, noop_wall, noop_cpu, r.client_ms,
                     ceiling, r.ratio / ceiling if ceiling else None, cpu_floor,
                     cpu_floor / r.cpu_per_1000 if cpu_floor else None])
    print_table(
        ["latency", "slots", "records", "noop_wall_s", "noop_cpu_s", "client_ms/req",
         "ratio_ceiling", "ratio/ceiling", "cpu_floor/1k", "floor/cpu"], rows,
        title="Floors measured in this run (noop: the same snakemake command again, every "
        "output up to date; client: a bare AsyncOpenAI client sending the run's prompts at "
        "the same concurrency; ratio_ceiling = limit / (limit + noop_wall); cpu_floor/1k = "
        "(noop_cpu + records x client) / records x 1000)")
    for r in results:
        if r.noop and r.limit / (r.limit + r.noop.wall) < 0.95:
            print(f"({r.latency}s, {r.slots}): a ratio of 0.95 is out of reach here: snakemake "
                  f"with nothing to do already takes {r.noop.wall:.2f}s, more than the "
                  f"{r.limit / 0.95 - r.limit:.2f}s of overhead 0.95 allows")
        if r.client_ms is not None and r.client_ms >= 1.0:
            print(f"({r.latency}s, {r.slots}): 1 CPU-s per 1000 records is out of reach here: "
                  f"the bare openai client alone costs {r.client_ms:.2f} ms a request")


if __name__ == "__main__":
    sys.exit(main())
