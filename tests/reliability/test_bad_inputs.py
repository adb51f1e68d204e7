"""Bad inputs: each stops the real pipeline before any request, naming the file, key and line.

Every case edits a scratch copy of the reference recipe (pointed at a live simulator with a valid
key, so a run that got past the check would really send requests) or its seed file, runs
`snakemake` for the training JSONL, and counts requests at the simulator.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import snakemake
from tests.reliability.catalogue import (
    TARGET,
    Catalogue,
    Row,
    Sim,
    configure,
    key_env,
    point_at,
    portable,
    recipe_file,
)

pytestmark = pytest.mark.slow

RECORDS, SHARD = 20, 10
RECIPE_NAME = "configs/customer_support_tools.yaml"
SEEDS_NAME = "data/customer_support_tool_seeds.jsonl"
LITERAL_KEY = f"sk-live-{uuid.uuid4().hex}"
UNSET_VAR = "SDGFLOW_RELIABILITY_UNSET_VAR"


def edit(path: Path, old: str, new: str) -> int:
    """Replace the first `old` with `new`; the 1-based line where the edit starts."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1


def edit_seed_line(project: Path, lineno: int, change: Callable[[bytes], bytes]) -> int:
    path = project / SEEDS_NAME
    lines = path.read_bytes().splitlines(keepends=True)
    lines[lineno - 1] = change(lines[lineno - 1])
    path.write_bytes(b"".join(lines))
    return lineno


@dataclass(frozen=True)
class Case:
    id: str
    what: str
    apply: Callable[[Path], int | None]  # edits the project; returns the line it broke
    file: str  # the file the message must name
    fragments: tuple[str, ...]  # key and explanation the message must carry
    target: str = TARGET
    gap: str | None = None  # a known gap in the message (stops in time, but unclearly)


def undefined_variable(project: Path) -> int:
    """Misspell a prompt variable; the error names the prompt's key line (the block's start)."""
    edit(recipe_file(project), "{{ product }}", "{{ produkt }}")
    key = "    prompt: |\n      Generate"
    return edit(recipe_file(project), key, key)


def empty_seeds(project: Path) -> None:
    (project / SEEDS_NAME).write_bytes(b"")


def drop_field(line: bytes) -> bytes:
    return re.sub(rb',\s*"product":\s*"[^"]*"', b"", line, count=1)


CASES = [
    Case("invalid-yaml", "invalid YAML (unclosed flow sequence)",
         lambda p: edit(recipe_file(p), f"num_records: {RECORDS}\n", f"num_records: [{RECORDS}\n"),
         RECIPE_NAME, ("invalid YAML",)),
    Case("invalid-yaml-other-recipe", "invalid YAML in a non-default recipe chosen by its output",
         lambda p: edit(p / "configs" / "tiny.yaml", "num_records: 10\n", "num_records: [10\n"),
         "configs/tiny.yaml", ("invalid YAML",), target="output/sdg/tiny_sft.jsonl"),
    Case("unknown-column-type", "unknown column type",
         lambda p: edit(recipe_file(p), "    type: category\n", "    type: categroy\n"),
         RECIPE_NAME, ("columns[0].type", "unknown type 'categroy'")),
    Case("unknown-model-alias", "unknown model alias",
         lambda p: edit(recipe_file(p), "model_alias: nvidia-text", "model_alias: nvidia-txt"),
         RECIPE_NAME, ("columns[2].model_alias", "unknown alias 'nvidia-txt'")),
    Case("undefined-jinja-variable", "Jinja variable no column or seed field provides",
         undefined_variable, RECIPE_NAME, ("columns[2].prompt", "produkt")),
    Case("seed-missing", "seed file missing",
         lambda p: [edit(recipe_file(p), SEEDS_NAME, "data/no_such_seeds.jsonl"), None][1],
         "data/no_such_seeds.jsonl", ("seed_dataset.path", "seed file not found")),
    Case("seed-empty", "seed file empty",
         empty_seeds, SEEDS_NAME, ("no rows",)),
    Case("seed-bad-json", "seed file with a bad JSON line (line 3)",
         lambda p: edit_seed_line(p, 3, lambda line: line.rstrip()[:-3] + b"\n"),
         SEEDS_NAME, ("bad JSON",)),
    Case("seed-missing-field", "seed row missing a field (line 2 lacks product)",
         lambda p: edit_seed_line(p, 2, drop_field),
         SEEDS_NAME, ("missing field(s) ['product']",)),
    Case("seed-not-utf8", "seed file with non-UTF-8 bytes (line 4)",
         lambda p: edit_seed_line(p, 4, lambda line: line[:10] + b"\xff\xfe" + line[10:]),
         SEEDS_NAME, ("not UTF-8",)),
    Case("num-records-negative", "negative num_records",
         lambda p: edit(recipe_file(p), f"num_records: {RECORDS}\n", "num_records: -5\n"),
         RECIPE_NAME, ("num_records", "greater than 0")),
    Case("num-records-zero", "zero num_records",
         lambda p: edit(recipe_file(p), f"num_records: {RECORDS}\n", "num_records: 0\n"),
         RECIPE_NAME, ("num_records", "greater than 0")),
    Case("shard-size-zero", "shard_size zero",
         lambda p: edit(recipe_file(p), f"shard_size: {SHARD}\n", "shard_size: 0\n"),
         RECIPE_NAME, ("shard_size", "greater than 0")),
    Case("literal-api-key", "api_key set to a literal key",
         lambda p: edit(recipe_file(p), "api_key: SDGFLOW_SIM_KEY", f"api_key: {LITERAL_KEY}"),
         RECIPE_NAME, ("providers[0].api_key", "literal key")),
    Case("unset-env-interpolation", "${oc.env:...} of an unset variable without default",
         lambda p: edit(recipe_file(p), "${oc.env:PWD}/" + SEEDS_NAME,
                        "${oc.env:" + UNSET_VAR + "}/seeds.jsonl"),
         RECIPE_NAME, (UNSET_VAR, "seed_dataset.path")),
]


def reported_lines(output: str, file: str) -> list[int]:
    return [int(n) for n in re.findall(re.escape(file) + r":(\d+)", output)]


def message_line(output: str, file: str) -> str:
    """The line of the error that names the file (first one), for the catalogue."""
    for line in output.splitlines():
        if file in line and not line.lstrip().startswith(("input:", "output:", "log:",
                                                          "Snakefile:", "Command:")):
            return line.strip()
    return "(file not named)"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_stops_before_any_request(project: Path, start_sim: Callable[..., Sim],
                                            catalogue: Catalogue, case: Case,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UNSET_VAR, raising=False)
    configure(project, RECORDS, SHARD)
    sim = start_sim()
    point_at(project, sim)
    broken_line = case.apply(project)
    run = snakemake(project, case.target, env=key_env())
    requests = sim.stats()["requests"]
    stage = "parse" if "Building DAG of jobs" not in run.output else \
        ", ".join(sorted(f"{rule} job" for rule in run.rules)) or "DAG"
    named = portable(message_line(run.output, case.file), project)
    lines = reported_lines(run.output, case.file)
    catalogue.record(Row(
        id=f"input/{case.id}", category="input", fault=case.what,
        happened=f"exit {run.returncode} at {stage}, {requests} requests: {named}",
        records=RECORDS, records_lost=0, extra_requests=requests, requests=requests,
        details={"reported_lines": lines, "broken_line": broken_line}))

    assert run.returncode != 0, run.output
    assert requests == 0
    assert LITERAL_KEY not in run.output  # a rejected literal key is never echoed
    try:
        assert case.file in run.output, run.output
        for fragment in case.fragments:
            assert fragment in run.output, run.output
        if broken_line is not None:  # names the line (YAML may notice the error a line later)
            assert any(broken_line <= n <= broken_line + 2 for n in lines), (lines, run.output)
        assert "Traceback" not in run.output, run.output  # one clear message, not a stack
    except AssertionError:
        if case.gap:
            pytest.xfail(f"known gap: {case.gap}")
        raise
    assert case.gap is None, "the known gap is fixed: drop Case.gap"
