"""The warm runner: job data crossing the socket, server identity, and a real server's lifecycle."""

from __future__ import annotations

import os
import pickle
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from snakemake.iocontainers import Namedlist
from snakemake.utils import format as format_

from sdgflow.jobs import warm
from sdgflow.jobs.shell_job import job_params, spec_from_argv, stage_command


def shell_job_argv(**resources: int) -> list[str]:
    """What a stage rule's `shell:` line passes, built the way Snakemake builds it: the params
    function gets the job's Namedlists, the other values are formatted into the command."""
    params = job_params("w/jobs", recipe=Path("w/recipe.json"), store="w/store")(
        Namedlist(fromdict={"shard": "3"}),
        Namedlist(fromdict={"rows": "w/rows/shard-3.parquet",
                            "shards": ["a.parquet", "b.parquet"]}),
        Namedlist(fromdict={"shard": "w/gen/shard-3.parquet"}))
    argv = ["generate", params, "--threads", "1", "--log", "w/logs/generate/shard-3.log"]
    for name, value in resources.items():
        argv += ["--resource", f"{name}={value}"]
    return argv


def test_shell_job_keeps_named_and_positional_access_as_plain_data() -> None:
    job = spec_from_argv(shell_job_argv(llm_slots=8))
    copy = pickle.loads(pickle.dumps(job))
    assert copy.rule == "generate"
    assert copy.input.rows == "w/rows/shard-3.parquet" and copy.input[0] == copy.input.rows
    assert copy.input.shards == ["a.parquet", "b.parquet"]
    assert copy.params.recipe == "w/recipe.json" and type(copy.params.recipe) is str
    assert copy.resources.llm_slots == 8 and copy.wildcards.shard == "3"
    assert copy.log[0] == "w/logs/generate/shard-3.log" and copy.threads == 1
    # Nothing in the pickle needs Snakemake to load: the warm server never imports it.
    assert b"snakemake" not in pickle.dumps(job)


def test_a_job_too_long_for_a_command_line_comes_from_a_file(tmp_path: Path) -> None:
    """`bash -c` takes the shell line as one argument, capped at 128 KiB by Linux."""
    shards = [f"output/sdg/.sdgflow/r/gen/shard-{k}.parquet" for k in range(5000)]
    make = job_params(tmp_path / "jobs", recipe="w/recipe.json")
    arg = make(Namedlist(), Namedlist(fromdict={"spec": "s.json", "shards": shards}),
               Namedlist(fromdict={"projected": "p.jsonl"}))
    assert arg.startswith("@") and len(arg) < 1000
    assert make(Namedlist(), Namedlist(fromdict={"spec": "s.json", "shards": shards}),
                Namedlist(fromdict={"projected": "p.jsonl"})) == arg  # same job, same file
    job = spec_from_argv(["project", arg, "--threads", "1", "--log", "l.log"])
    assert job.input.shards == shards and job.output.projected == "p.jsonl"
    small = make(Namedlist(), Namedlist(fromdict={"spec": "s.json"}), Namedlist())
    assert not small.startswith("@")


def test_stage_command_formats_into_a_shell_line_snakemake_can_run() -> None:
    command = stage_command("generate", "llm_slots", python="/opt/my {env}/bin/python")
    line = format_(command, params=Namedlist(fromdict={"job": "{\"a\": 1}"}),
                   threads=2, log=Namedlist(["w/log file.log"]),
                   resources=Namedlist(fromdict={"llm_slots": 5}))
    argv = shlex.split(line)
    assert argv[:3] == ["/opt/my {env}/bin/python", "-m", "sdgflow.jobs.shell_job"]
    assert argv[3:] == ["generate", '{"a": 1}', "--threads", "2", "--log", "w/log file.log",
                        "--resource", "llm_slots=5"]


def test_runtime_dir_must_be_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(warm.RUNTIME_ENV, str(tmp_path))
    private = warm.runtime_dir()
    assert private.stat().st_mode & 0o777 == 0o700
    private.chmod(0o770)  # someone else could connect and hand us a pickle
    with pytest.raises(warm.WarmUnavailable, match="not a private directory"):
        warm.runtime_dir()


def test_server_key_changes_when_a_source_file_changes(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import sdgflow

    package = tmp_path / "sdgflow"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "stage.py").write_text("X = 1\n")
    monkeypatch.setattr(sdgflow, "__file__", str(package / "__init__.py"))
    before = warm.server_key()
    assert warm.server_key() == before
    (package / "stage.py").write_text("X = 22\n")
    assert warm.server_key() != before


def test_disabled_under_slurm_and_by_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv(warm.WARM_ENV, raising=False)
    assert warm.enabled()
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    assert not warm.enabled()  # a daemon must not outlive a cluster job
    monkeypatch.delenv("SLURM_JOB_ID")
    monkeypatch.setenv(warm.WARM_ENV, "0")
    assert not warm.enabled()


def test_one_server_for_jobs_starting_together_and_it_exits_when_idle(runtime: Path) -> None:
    env = {**os.environ, warm.RUNTIME_ENV: str(runtime), warm.IDLE_ENV: "1"}
    code = "from sdgflow.jobs import warm; warm.connect().close()"
    clients = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(4)]
    assert [c.wait(timeout=120) for c in clients] == [0, 0, 0, 0]
    pids = warm.server_pids(runtime)
    assert len(pids) == 1
    server = psutil.Process(pids[0])
    server.wait(timeout=60)  # idle for 1 s: it exits on its own ...
    assert not server.is_running()
    assert list(runtime.glob("*/*.sock")) == []  # ... and removes its socket and pid file
    assert warm.server_pids(runtime) == []


def test_a_killed_server_is_replaced(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(warm.RUNTIME_ENV, str(runtime))
    warm.connect().close()
    [first] = warm.server_pids(runtime)
    server = psutil.Process(first)
    server.kill()  # leaves a stale socket file behind
    server.wait(timeout=30)
    warm.connect().close()
    [second] = warm.server_pids(runtime)
    assert second != first


def _fake_build() -> tuple[subprocess.Popen[bytes], str]:
    """A process standing in for a Snakemake build: alive until its stdin closes."""
    build = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    start = warm.process_start(build.pid)
    assert start is not None
    return build, f"{build.pid}-{start}"


def _end(build: subprocess.Popen[bytes]) -> None:
    assert build.stdin is not None
    build.stdin.close()
    build.wait(timeout=30)


def test_server_stays_while_any_build_using_it_is_alive_then_exits(
        runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two builds share one server: the first one ending must not stop it for the second."""
    monkeypatch.setenv(warm.RUNTIME_ENV, str(runtime))
    monkeypatch.delenv(warm.IDLE_ENV, raising=False)
    first, first_id = _fake_build()
    second, second_id = _fake_build()
    try:
        for build_id in (first_id, second_id):
            monkeypatch.setenv(warm.BUILD_ENV, build_id)
            warm.connect().close()
        [pid] = warm.server_pids(runtime)
        server = psutil.Process(pid)
        [builds] = runtime.glob("*/*.builds")
        assert sorted(p.name for p in builds.iterdir()) == sorted([first_id, second_id])
        _end(first)
        deadline = time.monotonic() + 30
        while (builds / first_id).exists():  # the server saw the first build end ...
            assert time.monotonic() < deadline, "the server never noticed the build ended"
            time.sleep(0.05)
        assert server.is_running()  # ... and stayed for the second
        assert server.status() != psutil.STATUS_ZOMBIE
        assert warm.server_pids(runtime) == [pid]
        _end(second)
        server.wait(timeout=warm.DEFAULT_IDLE_S)  # gone with the last build (within ~1 s)
        assert warm.server_pids(runtime) == [] and list(runtime.glob("*/*.sock")) == []
    finally:
        for build in (first, second):
            if build.poll() is None:
                _end(build)


def test_a_build_asking_for_reuse_keeps_the_server_after_it_ends(
        runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(warm.RUNTIME_ENV, str(runtime))
    monkeypatch.setenv(warm.IDLE_ENV, "600")
    build, build_id = _fake_build()
    monkeypatch.setenv(warm.BUILD_ENV, build_id)
    warm.connect().close()
    [pid] = warm.server_pids(runtime)
    [builds] = runtime.glob("*/*.builds")
    _end(build)
    deadline = time.monotonic() + 30
    while (builds / build_id).exists():
        assert time.monotonic() < deadline, "the server never noticed the build ended"
        time.sleep(0.05)
    assert psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # still there for the next one
    monkeypatch.delenv(warm.BUILD_ENV)
    warm.connect().close()
    assert warm.server_pids(runtime) == [pid]  # which reuses it


@pytest.mark.parametrize(("argv", "starts"), [
    (["-j8", "output/sdg/customer_support_tool_sft.jsonl"], True),
    (["--profile", "profiles/local"], True),
    (["-n", "output/sdg/x.jsonl"], False),
    (["-np"], False),
    (["--dry-run"], False),
    (["--lint"], False),
    (["--unlock"], False),
])
def test_prestart_only_when_jobs_may_run(runtime: Path, monkeypatch: pytest.MonkeyPatch,
                                        argv: list[str], starts: bool) -> None:
    monkeypatch.setenv(warm.RUNTIME_ENV, str(runtime))
    monkeypatch.setenv(warm.BUILD_ENV, "")  # prestart sets it: undone after the test
    started: list[bool] = []
    monkeypatch.setattr(warm, "connect", lambda: started.append(True) or socket.socketpair()[0])
    monkeypatch.setattr(warm.threading, "Thread", _InlineThread)
    warm.prestart(argv)
    assert started == ([True] if starts else [])
    # A build registers this process, so the server stays exactly as long as it needs.
    assert os.environ[warm.BUILD_ENV] == (f"{os.getpid()}-{warm.process_start(os.getpid())}"
                                          if starts else "")


class _InlineThread:
    """Runs the target at start(), so the test needs no synchronisation."""

    def __init__(self, target: Any, **_kwargs: Any) -> None:
        self.target = target

    def start(self) -> None:
        self.target()


def test_slot_ledger_grants_fifo_within_the_budget_and_frees_a_dead_jobs_slots() -> None:
    from sdgflow.jobs.slots import SlotLedger

    ledger = SlotLedger()
    a, b = (101, 0), (202, 0)  # two jobs, one lane each, same endpoint and model
    assert ledger.declare(a, "http://e/v1 m", 2) == []
    assert ledger.declare(b, "http://e/v1 m", 2) == []
    assert ledger.acquire(a) == [a]
    assert ledger.acquire(a) == [a]
    assert ledger.acquire(b) == []  # budget of 2 in use: b waits ...
    assert ledger.acquire(a) == []  # ... and a's third request queues behind it
    assert ledger.release(a) == [b]  # first come, first served
    assert ledger.drop(101) == []  # a dies holding one slot and waiting for another
    assert ledger.acquire(b) == [b]  # its held slot came back; its queued one is forgotten
    assert ledger.acquire(b) == []
    assert ledger.budgets["http://e/v1 m"].in_use == 2
    other = (303, 0)
    assert ledger.declare(other, "http://e/v1 other-model", 1) == []
    assert ledger.acquire(other) == [other]  # budgets are per endpoint and model
