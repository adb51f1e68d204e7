"""Shared fixtures: a project directory (configs + data) that tests may edit freely."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repo's Snakefile, rules, scripts, configs and data; cwd is set to it."""
    for name in ("Snakefile", "rules", "scripts", "configs", "data", "report", "envs"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    for var in ("SDG_OUTPUT_DIR", "NEMO_RUN_DIR", "SDGFLOW_RECIPE"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path
