"""Secrets: the API key's value never lands in a file of the project or in any output line."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness import snakemake
from tests.reliability.catalogue import (
    STORE,
    WORK,
    Catalogue,
    Row,
    Sim,
    configure,
    generated,
    key_env,
    point_at,
    records_lost,
)

pytestmark = pytest.mark.slow

RECORDS, SHARD = 20, 10


def files_holding(root: Path, needles: list[bytes]) -> tuple[int, list[str]]:
    """(files scanned, files holding any needle) under root, hidden directories included."""
    scanned, hits = 0, []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            scanned += 1
            data = path.read_bytes()
            if any(n in data for n in needles):
                hits.append(str(path.relative_to(root)))
    return scanned, hits


def test_api_key_value_appears_in_no_file_and_no_log_line(
        project: Path, start_sim: Callable[..., Sim], catalogue: Catalogue) -> None:
    secret = f"sk-SECRET-{uuid.uuid4().hex}"
    wrong = f"sk-WRONG-{uuid.uuid4().hex}"
    configure(project, RECORDS, SHARD)
    sim = start_sim(key=secret)
    point_at(project, sim)
    # The whole pipeline (default target: training JSONL, packing report, HTML report).
    run = snakemake(project, env=key_env(secret))
    # A wrong key when more records need requests: the 401 path must not echo either value.
    refused = snakemake(project, "--config", f"num_records={RECORDS + SHARD}",
                        env=key_env(wrong))
    outputs = [run.output, refused.output]
    needles = [secret.encode(), wrong.encode()]
    scanned, hits = files_holding(project, needles)
    lines = [line for out in outputs for line in out.splitlines()
             if secret in line or wrong in line]
    areas = {name: sum(1 for p in (project / name).rglob("*") if p.is_file())
             for name in (".snakemake", str(WORK), str(WORK / "logs"), str(STORE), "output")}
    rows = generated(project)
    catalogue.record(Row(
        id="secrets/api-key", category="secrets",
        fault="distinctive API key value in the environment (full pipeline, then a wrong key "
              "for 10 more records)",
        happened=f"run exit {run.returncode}, wrong-key run exit {refused.returncode} "
        f"({'HTTP 401 from the health check' if 'HTTP 401' in refused.output else 'no 401'}"
        f", {sim.stats()['requests'] - RECORDS} chat requests); {scanned} files scanned under "
        "the project "
        f"(.snakemake/: {areas['.snakemake']}, work dir: {areas[str(WORK)]}, output dir: "
        f"{areas['output']}) and {sum(len(o.splitlines()) for o in outputs)} output lines: "
        f"key value found in {len(hits)} files and {len(lines)} lines",
        records=RECORDS, records_lost=records_lost(rows, RECORDS), extra_requests=0,
        requests=sim.stats()["requests"], details={"files_with_key": hits}))

    assert run.returncode == 0, run.output
    assert refused.returncode != 0 and "HTTP 401" in refused.output, refused.output
    assert sim.stats()["requests"] == RECORDS  # the wrong key was stopped by the health check
    assert all(areas.values()), areas  # the scan really covered logs, store, outputs, metadata
    assert hits == []
    assert lines == []
