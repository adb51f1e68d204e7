"""Shared fixtures: a project directory (configs + data) that tests may edit freely."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdgflow.stages.warm import RUNTIME_ENV, server_pids

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


@pytest.fixture(autouse=True, scope="session")
def warm_runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's own warm runners (started by the first job), stopped when the tests end."""
    runtime = tmp_path_factory.mktemp("warm")
    previous = os.environ.get(RUNTIME_ENV)
    os.environ[RUNTIME_ENV] = str(runtime)
    yield runtime
    for pid in server_pids(runtime):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    if previous is None:
        os.environ.pop(RUNTIME_ENV, None)
    else:
        os.environ[RUNTIME_ENV] = previous
