"""DAG scale: `snakemake -n` wall time for a big recipe at the default shard size.

A scratch project with the customer_support_tools recipe (provider offline: a dry run sends
nothing) sized to each --records value; for each size, `snakemake -j8 -n <training JSONL>` runs
twice: the first parse writes the seed-file hash and one spec file per shard, the second finds
them unchanged. Prints wall, CPU and the number of jobs the DAG holds.

    python bench/bench_dag.py                        # 100k and 1M records
    python bench/bench_dag.py --records 100000 --profile   # + cProfile top hot spots

A first `-n` slower than --profile-over seconds (60) is profiled automatically.
"""

from __future__ import annotations

import argparse
import io
import pstats
import re
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    TARGET,
    ScratchProject,
    load_average,
    log,
    machine_info,
    print_table,
    run_snakemake,
    run_timed,
    snakemake_argv,
    snakemake_env,
)

_TOTAL = re.compile(r"^total\s+(\d+)", re.MULTILINE)


def job_count(output: str, rules: dict[str, int]) -> int:
    """The `total` row of snakemake's job stats table, else the rules it listed."""
    match = _TOTAL.search(output)
    return int(match.group(1)) if match else sum(rules.values())


def profile(project: ScratchProject, top: int) -> str:
    """cProfile of one `snakemake -n` (a fresh parse: spec files removed first)."""
    out = project.root / "dag.prof"
    run = run_timed([sys.executable, "-m", "cProfile", "-o", str(out),
                     *snakemake_argv("-j8", "-n", TARGET)[1:]], project.root,
                    snakemake_env(), timeout=7200,
                    log_file=project.root / "bench-profile.log")
    if run.returncode != 0 or not out.exists():
        return f"profile failed (exit {run.returncode})"
    text = io.StringIO()
    stats = pstats.Stats(str(out), stream=text)
    text.write(f"cProfile of `snakemake -n` ({run.wall:.1f}s wall under the profiler)\n")
    # Cumulative within snakemake's own phases and sdgflow (the runpy/asyncio wrappers that
    # top an unfiltered list say nothing), then the functions that burn time themselves.
    stats.sort_stats("cumulative").print_stats(
        r"snakemake/(dag|jobs|rules|persistence|io|scheduler|workflow|parser|ruleinfo)|sdgflow",
        top)
    stats.sort_stats("tottime").print_stats(top)
    return text.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--shard-size", type=int, default=None,
                        help="shard_size in the recipe (default: the recipe's own default)")
    parser.add_argument("--profile", action="store_true", help="always profile the largest size")
    parser.add_argument("--profile-over", type=float, default=60.0)
    parser.add_argument("--top", type=int, default=25, help="hot spots to print per ordering")
    parser.add_argument("--keep", type=Path, help="keep the scratch project here")
    args = parser.parse_args()

    rows: list[list[Any]] = []
    reports: list[str] = []
    for records in args.records:
        with ScratchProject(args.keep) as project:
            project.configure(records=records, shard_size=args.shard_size)
            runs = []
            for label in ("first -n", "second -n (specs unchanged)"):
                log(f"{records} records: {label}")
                run = run_snakemake(project, "-n", TARGET, jobs=8, timeout=7200,
                                    log_file=project.root / "bench-dag.log")
                if run.returncode != 0:
                    tail = "\n".join(run.output.splitlines()[-15:])
                    raise SystemExit(f"snakemake -n failed (exit {run.returncode}):\n{tail}")
                runs.append(run)
                rules = run.rules
                specs = len(list((project.work / "specs").glob("*.json")))
                rows.append([records, label, job_count(run.output, rules), rules.get("generate"),
                             specs, run.wall, run.cpu, run.extra.get("main_cpu")])
                log(f"  {run.wall:.1f}s wall, {run.cpu:.1f}s CPU")
            if (args.profile and records == max(args.records)) or \
                    runs[0].wall > args.profile_over:
                for spec in (project.work / "specs").glob("*.json"):
                    spec.unlink()
                log(f"{records} records: profiling a fresh `snakemake -n`")
                reports.append(f"--- {records} records ---\n{profile(project, args.top)}")

    print(f"\nmachine: {machine_info()}; {load_average()} at the end")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; snakemake -j8 -n {TARGET}")
    print_table(["records", "run", "jobs", "generate_jobs", "spec_files", "wall_s", "cpu_s",
                 "main_cpu_s"], rows, title="DAG scale (`snakemake -n`)")
    for report in reports:
        print()
        print(report)


if __name__ == "__main__":
    sys.exit(main())
