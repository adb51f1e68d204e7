"""Incremental cost: what each kind of edit makes the endpoint pay, counted at the simulator.

One scratch project, the customer_support_tools recipe with 2000 records pointed at one
`sdgflow serve-sim` (small latency) for the whole sequence; each step's requests are the
simulator's stats delta, its wall time the whole `snakemake` command:

    initial build -> identical rerun -> comment-only edit -> validation threshold edit ->
    prompt edit -> prompt revert -> num_records 2000 -> 2500 ->
    fresh prompt edit killed with `kill -9` (process group) at ~50%, `--unlock`, rerun

    python bench/bench_incremental.py [--records 2000] [--latency 0.02] [--slots 64]

Prints a table with the target per row and PASS/FAIL; timing is reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    TARGET,
    ScratchProject,
    Sim,
    load_average,
    log,
    machine_info,
    print_table,
    run_snakemake,
    snakemake_argv,
    snakemake_env,
)

PROMPT = "Generate one realistic"


def delta(after: dict[str, Any], before: dict[str, Any], key: str) -> int:
    return after[key] - before[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--more", type=int, default=500, help="records added by the size edit")
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--slots", type=int, default=64,
                        help="simulator slots = max_parallel_requests = llm_slots")
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--kill-at", type=float, default=0.5,
                        help="fraction of the killed run's requests completed before kill -9")
    parser.add_argument("--keep", type=Path, help="keep the scratch project here")
    args = parser.parse_args()
    records, total = args.records, args.records + args.more
    resources = ("--resources", f"llm_slots={args.slots}")
    rows: list[list[Any]] = []

    with ScratchProject(args.keep) as project, Sim(project.root, args.latency,
                                                   args.slots) as sim:
        project.configure(records=records, max_parallel_requests=args.slots, sim=sim)
        log(f"scratch project {project.root}, simulator {sim.url}")

        def step(name: str, target: str, check: Any = None) -> None:
            before = sim.stats()
            run = run_snakemake(project, TARGET, *resources, jobs=args.jobs,
                                log_file=project.root / "bench-snakemake.log")
            after = sim.stats()
            requests = delta(after, before, "requests")
            if run.returncode != 0:
                tail = "\n".join(run.output.splitlines()[-15:])
                log(f"{name}: snakemake exit {run.returncode}\n{tail}")
            ok = run.returncode == 0 and (check(requests) if check else str(requests) == target)
            jobs = ", ".join(f"{k}:{v}" for k, v in sorted(run.rules.items())) or "none"
            rows.append([name, requests, delta(after, before, "repeated_completed"), run.wall,
                         jobs, target, "PASS" if ok else "FAIL"])
            log(f"{name}: {requests} requests, {run.wall:.1f}s, jobs {jobs}")

        step("initial build", str(records))
        step("identical rerun", "0")
        project.edit("# Multi-turn customer-support",
                     "# A comment edited by the bench.\n# Multi-turn customer-support")
        step("comment-only edit", "0")
        project.edit("output_projection:", "validation:\n  min_pass_rate: 0.5\n"
                     "output_projection:")
        step("validation threshold edit", "0")
        project.edit(PROMPT, "Generate one plausible")
        step("prompt edit", str(records))
        project.edit("Generate one plausible", PROMPT)
        step("prompt revert", "0")
        project.edit(f"num_records: {records}\n", f"num_records: {total}\n")
        step(f"num_records {records} -> {total}", str(total - records))

        # kill -9 of snakemake's whole process group at ~50% of a fresh prompt-edit run.
        project.edit(PROMPT, "Generate one believable")
        before = sim.stats()
        started = time.perf_counter()
        proc = subprocess.Popen(snakemake_argv("-j", str(args.jobs), TARGET, *resources),
                                cwd=project.root, env=snakemake_env(), start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        goal = before["completed"] + int(args.kill_at * total)
        deadline = time.monotonic() + 600
        at_kill = before
        while proc.poll() is None and time.monotonic() < deadline:
            at_kill = sim.stats()
            if at_kill["completed"] >= goal:
                break
            time.sleep(0.01)  # polling the simulator's counter, the condition we wait on
        finished_first = proc.poll() is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # snakemake and every job it started
        proc.wait()
        if finished_first:
            log("the run finished before the kill: raise --records or --latency")
        killed_wall = time.perf_counter() - started
        in_flight = at_kill["in_flight"]
        time.sleep(max(1.0, 3 * args.latency))  # let the orphaned in-flight requests finish
        after_kill = sim.stats()
        paid = delta(after_kill, before, "completed")
        unlock = run_snakemake(project, "--unlock", jobs=1)
        rerun_before = sim.stats()
        rerun = run_snakemake(project, "--rerun-incomplete", TARGET, *resources,
                              jobs=args.jobs, log_file=project.root / "bench-snakemake.log")
        after = sim.stats()
        rerun_requests = delta(after, rerun_before, "requests")
        paid_twice = delta(after, rerun_before, "repeated_completed")
        # Requests the rerun had to send: every answer not paid for before the kill.
        needed = total - paid
        extra = rerun_requests - needed
        # In flight from the client's side (sent, or answered but not yet stored) is bounded by
        # the budget; the server's snapshot just before the kill misses answers on the wire.
        ok = (unlock.returncode == 0 and rerun.returncode == 0 and paid_twice <= args.slots
              and extra <= args.slots)
        done_at_kill = delta(at_kill, before, "completed")
        rows.append([
            f"kill -9 at {done_at_kill}/{total} then rerun", rerun_requests, paid_twice,
            rerun.wall, ", ".join(f"{k}:{v}" for k, v in sorted(rerun.rules.items())),
            f"repeats <= in-flight (<= budget {args.slots})",
            "PASS" if ok else "FAIL"])
        log(f"kill: {done_at_kill} completed at the kill after {killed_wall:.1f}s, "
            f"{in_flight} in flight; {paid} paid by then; rerun sent {rerun_requests} "
            f"({needed} never paid, {extra} extra), {paid_twice} paid twice")

    print(f"\nmachine: {machine_info()}; {load_average()} at the end")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; {records} records, simulator "
          f"--latency {args.latency} --slots {args.slots}; snakemake -j{args.jobs} "
          f"--resources llm_slots={args.slots}")
    print_table(["step", "requests", "repeats", "wall_s", "jobs run", "target", "verdict"],
                rows, title="Incremental cost (requests and repeats counted at the simulator)")
    print(f"kill row: {done_at_kill} answers completed when kill -9 landed, {in_flight} in "
          f"flight at the server's last snapshot (budget {args.slots}); {paid} paid before "
          f"the rerun (in-flight ones finished server-side); the "
          f"rerun sent {rerun_requests} = {needed} never paid + {extra} extra; "
          f"{paid_twice} answers paid twice")


if __name__ == "__main__":
    sys.exit(main())
