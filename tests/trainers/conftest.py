"""Rows of the default build, made once per session by the offline pipeline itself."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest

from tests.conftest import copy_project

DEFAULT_BUILD_RECORDS = 300


@pytest.fixture(scope="session")
def default_build_rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The reference recipe's valid rows (300 records, offline simulator), as a user who runs
    the default build gets them."""
    project = copy_project(tmp_path_factory.mktemp("default-build"))
    target = "output/sdg/default.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "sdgflow", "run", "-c", "customer_support_tools", "-j", "2",
         f"num_records={DEFAULT_BUILD_RECORDS}", f"output_path={target}", "--target", target],
        cwd=project, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = (project / target).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch):
    """transformers' `strftime_now` reads the wall clock; the packer formats
    `packing.render_date`: both see that day."""
    from sdgflow.pack.config import PackingConfig

    try:
        from transformers.utils import chat_template_utils
    except ImportError:
        yield
        return
    day = PackingConfig().render_date

    class Fixed(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(day.year, day.month, day.day)

    monkeypatch.setattr(chat_template_utils, "datetime", Fixed)
    chat_template_utils._compile_jinja_template.cache_clear()
    yield
    chat_template_utils._compile_jinja_template.cache_clear()
