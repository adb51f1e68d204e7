"""Shard request files for `vllm run-batch`: exported requests, answered by the simulator's
batch code standing in for vLLM, imported into the store, give the online answers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sdgflow.build.paths import RecipePaths
from sdgflow.config.load import load_recipe
from sdgflow.config.models import Recipe
from sdgflow.generate.batch_files import export_requests, import_outputs
from sdgflow.generate.engine import BatchGenerator
from sdgflow.generate.store import RequestStore
from sdgflow.simulator.app import Simulator
from sdgflow.simulator.batches import BatchService

RECORDS = [{"record_id": i, "topic": f"topic {i}", "persona": "retired engineer"}
           for i in range(10)]


def recipe_with_rows(work: Path) -> Recipe:
    """The tiny recipe (two shards of five) with its seed stage's rows written."""
    recipe = load_recipe("tiny", [f"work_dir={work}", "shard_size=5"])
    paths = RecipePaths.of(recipe)
    for k in range(2):
        paths.rows(k).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(RECORDS[5 * k:5 * (k + 1)]), paths.rows(k))
    return recipe


def run_batch_elsewhere(recipe: Recipe, folder: Path) -> None:
    """What `vllm run-batch -i shard-K.jsonl -o shard-K.output.jsonl` does, by the simulator."""
    service = BatchService(Simulator(recipe.simulator))
    for source in sorted(folder.glob("shard-?.jsonl")):
        lines = []
        for raw in source.read_bytes().splitlines():
            request = json.loads(raw)
            status, body = service.answer(request["body"])
            lines.append({"id": f"vllm-{request['custom_id'][:8]}",
                          "custom_id": request["custom_id"], "error": None,
                          "response": {"status_code": status, "request_id": "r", "body": body}})
        source.with_name(f"{source.stem}.output.jsonl").write_text(
            "".join(json.dumps(line) + "\n" for line in lines))


def stored_texts(store: Path) -> dict[str, Any]:
    return {k: a.text for k, a in RequestStore(store).load(0, len(RECORDS)).items()}


def test_export_run_elsewhere_import_gives_the_online_answers(tmp_path: Path) -> None:
    recipe = recipe_with_rows(tmp_path / "work")
    paths = RecipePaths.of(recipe)
    folder = tmp_path / "files"
    exported = []
    for _ in range(2):  # user_query first, then assistant_response, which reads it
        done = export_requests(recipe, folder)
        exported.append((done.files, done.requests))
        run_batch_elsewhere(recipe, folder)
        imported = import_outputs(recipe, folder)
        assert imported.requests == done.requests and not imported.failed
    assert exported == [(2, 10), (2, 10)]
    assert export_requests(recipe, folder).requests == 0
    assert not list(folder.glob("shard-?.jsonl"))  # stale request files are removed

    online = tmp_path / "online"
    with RequestStore(online) as store:
        _, summary = asyncio.run(BatchGenerator(recipe, store, 4).run(RECORDS))
    assert summary.requests_sent == 20
    assert stored_texts(paths.store) == stored_texts(online)


def test_import_keeps_failed_lines_out_of_the_store_and_says_why(tmp_path: Path) -> None:
    recipe = recipe_with_rows(tmp_path / "work")
    paths = RecipePaths.of(recipe)
    folder = tmp_path / "files"
    export_requests(recipe, folder)
    keys = [json.loads(line)["custom_id"] for line in
            (folder / "shard-0.jsonl").read_text().splitlines()]
    failures = [  # as vLLM's run-batch writes them: an error string, or a status without body
        {"id": "a", "custom_id": keys[0], "error": "prompt too long",
         "response": {"status_code": 400, "request_id": "r", "body": None}},
        {"id": "b", "custom_id": keys[1], "error": None,
         "response": {"status_code": 500, "request_id": "r", "body": None}},
        {"id": "c", "custom_id": "not-ours", "error": None,
         "response": {"status_code": 200, "request_id": "r", "body": {}}}]
    (folder / "shard-0.output.jsonl").write_text("".join(json.dumps(f) + "\n" for f in failures))
    done = import_outputs(recipe, folder)
    assert done.requests == 0 and not stored_texts(paths.store)
    assert sorted(done.failed.values()) == ["shard-0.output.jsonl: HTTP 500: no body",
                                            "shard-0.output.jsonl: prompt too long"]
    assert export_requests(recipe, folder).requests == 10  # asked again next time
