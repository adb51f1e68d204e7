"""Process faults: kill -9 of a generation job or of snakemake, a full disk, two runs at once.

The simulator counts requests, so "paid twice" is measured where an endpoint would bill it.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from sdgflow.generate.store import RequestStore
from tests.harness import snakemake
from tests.reliability.catalogue import (
    STORE,
    TARGET,
    Catalogue,
    Row,
    Sim,
    configure,
    failed_ids,
    gen_targets,
    generated,
    key_env,
    point_at,
    portable,
    records_lost,
    wait_for,
)

pytestmark = pytest.mark.slow

# Two generation jobs at once, each with 2 of the 4 request slots: ~2 s of requests per shard.
RECORDS, SHARD, SLOTS = 40, 20, 4
SLOW_SIM = ("--latency", "0.2", "--slots", str(SLOTS))


def start_snakemake(project: Path, *targets: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "4", *targets],
                            cwd=project, env={**os.environ, **key_env()}, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def generate_jobs(proc: subprocess.Popen) -> list[psutil.Process]:
    """Python processes under `proc` running the generate rule's shell line (shell_job.py)."""
    found = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            argv = child.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if argv and "python" in Path(argv[0]).name and \
                argv[1:4] == ["-m", "sdgflow.jobs.shell_job", "generate"]:
            found.append(child)
    return found


def stored(project: Path) -> int:
    return len(RequestStore(project / STORE).load(0, RECORDS))


@pytest.mark.parametrize("victim", ["generation job", "snakemake process group"])
def test_kill_9_mid_shard(project: Path, start_sim: Callable[..., Sim], catalogue: Catalogue,
                          victim: str) -> None:
    configure(project, RECORDS, SHARD, max_parallel_requests=SLOTS)
    sim = start_sim(*SLOW_SIM)
    point_at(project, sim)
    targets = gen_targets(RECORDS, SHARD)
    proc = start_snakemake(project, *targets)
    # Mid-shard: some answers stored, requests in flight, a generation job running.
    jobs = wait_for(lambda: stored(project) >= 6 and sim.stats()["in_flight"] > 0
                    and generate_jobs(proc), 120, "generation under way", alive=proc)
    if victim == "generation job":
        jobs[0].send_signal(signal.SIGKILL)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
    first_output, _ = proc.communicate(timeout=120)
    kept = stored(project)
    before = sim.stats()
    steps = []
    rerun = snakemake(project, *targets, env=key_env())
    if victim != "generation job":
        # A killed snakemake leaves its lock: the rerun must say so and send nothing.
        locked = rerun
        says = first_line(locked.output, "cannot be locked", "Exception").split(". ")[0]
        steps.append(f"plain rerun refused (exit {locked.returncode}: \"{says}\"), ran after "
                     "`--unlock`")
        assert snakemake(project, "--unlock").returncode == 0
        rerun = snakemake(project, *targets, env=key_env())
    after = sim.stats()
    rows = generated(project)
    rerun_requests = after["requests"] - before["requests"]
    repeated = after["repeated_completed"]
    steps.append(f"rerun sent {rerun_requests} requests for the {RECORDS - kept} answers not "
                 f"stored; {repeated} answers were paid twice (in flight at the kill)")
    catalogue.record(Row(
        id=f"process/kill-9-{victim.split()[0]}", category="process",
        fault=f"`kill -9` of the {victim} mid-shard",
        happened=f"run exited {proc.returncode} with {kept}/{RECORDS} answers stored; "
        + "; ".join(steps),
        records=RECORDS, records_lost=records_lost(rows, RECORDS),
        extra_requests=after["requests"] - RECORDS, requests=after["requests"],
        details={"stored_at_kill": kept, "paid_twice": repeated}))

    assert proc.returncode != 0
    if victim == "generation job":
        assert "Error in rule generate" in first_output, first_output
    else:
        assert locked.returncode != 0 and "--unlock" in locked.output, locked.output
        assert before["requests"] == sim.stats()["requests"] - rerun_requests
    assert 6 <= kept < RECORDS
    assert rerun.returncode == 0, rerun.output
    assert sorted(r["record_id"] for r in rows) == list(range(RECORDS))
    assert failed_ids(rows) == []
    assert rerun_requests == RECORDS - kept  # only what was not stored is asked again
    assert repeated <= SLOTS  # at most the requests in flight when the kill landed


def first_line(output: str, *needles: str) -> str:
    """The first line holding the first needle found (needles in order of preference)."""
    for needle in needles:
        for line in output.splitlines():
            if needle in line:
                return line.strip()
    return "(no such line)"


def test_second_snakemake_on_the_same_workdir_is_stopped(
        project: Path, start_sim: Callable[..., Sim], catalogue: Catalogue) -> None:
    configure(project, RECORDS, SHARD, max_parallel_requests=SLOTS)
    # ~10 s of requests, so the first run is still generating while the others start.
    sim = start_sim("--latency", "1.0", "--slots", str(SLOTS))
    point_at(project, sim)
    first = start_snakemake(project, TARGET)
    wait_for(lambda: sim.stats()["requests"] > 0, 120, "the first run sends requests",
             alive=first)
    second = snakemake(project, TARGET, env=key_env())
    # What the second run's message advises, still while the first one runs.
    third = snakemake(project, "--rerun-incomplete", TARGET, env=key_env())
    overlapped = first.poll() is None
    output, _ = first.communicate(timeout=300)
    stats = sim.stats()
    rows = generated(project)
    second_says = first_line(second.output, "cannot be locked", "Exception").split(". ")[0]
    third_says = first_line(third.output, "cannot be locked", "Exception").split(". ")[0]
    catalogue.record(Row(
        id="process/second-snakemake", category="process",
        fault="second snakemake started on the same workdir during a run",
        happened=f"second exited {second.returncode} with \"{second_says}\"; the same with "
        f"--rerun-incomplete exited {third.returncode} with \"{third_says}\"; "
        f"first finished (exit {first.returncode}) with {stats['requests']} requests for "
        f"{RECORDS} records",
        records=RECORDS, records_lost=records_lost(rows, RECORDS),
        extra_requests=stats["requests"] - RECORDS, requests=stats["requests"],
        details={"second": second_says, "third": third_says}))

    assert overlapped, "the first run ended before the others started: nothing was tested"
    assert first.returncode == 0, output
    assert second.returncode != 0 and third.returncode != 0
    assert "Directory cannot be locked" in third.output, third.output
    assert sorted(r["record_id"] for r in rows) == list(range(RECORDS))
    assert stats["requests"] == RECORDS and stats["repeated_completed"] == 0  # none paid twice
    # A clear message on the first refusal: Snakemake's lock, not advice to rerun.
    assert "Directory cannot be locked" in second.output, second.output


def mount_tiny_tmpfs(directory: Path, size: str) -> bool:
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
                          capture_output=True)
    return done.returncode == 0


def test_disk_full_on_the_store(project: Path, start_sim: Callable[..., Sim],
                                catalogue: Catalogue) -> None:
    records = 20
    configure(project, records, records, max_parallel_requests=2)
    sim = start_sim()
    point_at(project, sim)
    store = project / STORE
    # Room for a handful of answers (each ~3 KB of JSON); then every write fails with ENOSPC.
    if not mount_tiny_tmpfs(store, "16k"):
        if os.geteuid() == 0:
            pytest.skip("cannot mount a tmpfs here to fill up")
        store.chmod(0o555)  # unprivileged fallback: the store refuses writes (EACCES)
    try:
        run = snakemake(project, *gen_targets(records, records), env=key_env())
        readable = RequestStore(store).load(0, records)  # the store still reads after the fault
        kept = {store_file.name: store_file.read_bytes() for store_file in store.rglob("*.jsonl")}
        kept_dirs = {f.relative_to(store) for f in store.rglob("*.jsonl")}
    finally:
        if os.path.ismount(store):
            subprocess.run(["umount", str(store)], check=True)
        else:
            store.chmod(0o755)
    first_requests = sim.stats()["requests"]
    # Space freed: put the stored answers back on a normal disk and rerun.
    for rel in kept_dirs:
        (store / rel).parent.mkdir(parents=True, exist_ok=True)
        (store / rel).write_bytes(kept[rel.name])
    rerun = snakemake(project, *gen_targets(records, records), env=key_env())
    rerun_requests = sim.stats()["requests"] - first_requests
    rows = generated(project)
    message = portable(first_line(run.output, "cannot write to the response store"), project)
    catalogue.record(Row(
        id="process/disk-full", category="process",
        fault="disk full on the response store (16 KB tmpfs)",
        happened=f"generate exited non-zero: \"{message}\"; {len(readable)} answers stored "
        f"before the fault read back with RequestStore.load; rerun with space sent "
        f"{rerun_requests} requests for the {records - len(readable)} missing answers",
        records=records, records_lost=records_lost(rows, records),
        extra_requests=first_requests + rerun_requests - records,
        requests=first_requests + rerun_requests,
        details={"stored_before_fault": len(readable), "first_run_requests": first_requests}))

    assert run.returncode != 0
    assert "cannot write to the response store" in run.output, run.output
    assert str(STORE) in message
    assert any(os.strerror(e) in message for e in (errno.ENOSPC, errno.EACCES)), message
    assert rerun.returncode == 0, rerun.output
    assert sorted(r["record_id"] for r in rows) == list(range(records))
    assert rerun_requests == records - len(readable)  # nothing stored is paid again
    assert "Traceback" not in run.output  # one clear error line, not a stack
