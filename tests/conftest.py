"""Shared fixtures: a project directory (configs + data) that tests may edit freely."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdgflow.jobs.warm import IDLE_ENV, RUNTIME_ENV, server_pids

REPO = Path(__file__).resolve().parents[1]


def copy_project(dest: Path) -> Path:
    """`dest` with a copy of the repo's Snakefile, rules, configs and data."""
    for name in ("Snakefile", "rules", "configs", "data", "report", "envs"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name)
        else:
            shutil.copy(source, dest / name)
    return dest


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repo's Snakefile, rules, configs and data; cwd is set to it."""
    copy_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    for var in ("SDG_OUTPUT_DIR", "NEMO_RUN_DIR", "SDGFLOW_RECIPE"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def runtime() -> Iterator[Path]:
    """A warm runtime dir of the test's own (no other test's server in it), short: socket paths
    must stay under AF_UNIX's 108 bytes. Servers left in it are stopped."""
    path = Path(tempfile.mkdtemp(prefix="w", dir="/tmp"))
    yield path
    for pid in server_pids(path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True, scope="session")
def warm_runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's own warm runners (started by the first job), stopped when the tests end.
    They stay between tests' builds (SDGFLOW_WARM_IDLE), as a user's may, instead of one cold
    start per build; tests of the default lifetime unset it."""
    runtime = tmp_path_factory.mktemp("warm")
    previous = os.environ.get(RUNTIME_ENV)
    os.environ[RUNTIME_ENV] = str(runtime)
    linger = IDLE_ENV not in os.environ
    if linger:
        os.environ[IDLE_ENV] = "600"
    yield runtime
    if linger:
        os.environ.pop(IDLE_ENV, None)
    for pid in server_pids(runtime):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    if previous is None:
        os.environ.pop(RUNTIME_ENV, None)
    else:
        os.environ[RUNTIME_ENV] = previous
