"""Batch execution of a shard (generate/batch.py) against `sdgflow serve-sim` over HTTP, counted
at the simulator: the same store entries as online, follow-up batches for failed lines, only
missing requests uploaded, a clear error where the provider has no Batch API."""

from __future__ import annotations

import asyncio
import itertools
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sdgflow.build.spec import stage_specs
from sdgflow.config.errors import ConfigError
from sdgflow.config.load import load_recipe
from sdgflow.config.models import Provider, Recipe
from sdgflow.generate import batch as batch_module
from sdgflow.generate.batch import BatchOutcome, ShardState, generate_batches, state_path
from sdgflow.generate.engine import BatchGenerator
from sdgflow.generate.retry import FatalEndpointError
from sdgflow.generate.store import RequestStore
from sdgflow.simulator.process import SimProcess
from sdgflow.simulator.settings import SimulatorSettings

RECORDS = [{"record_id": i, "topic": f"topic {i}", "persona": "busy parent"} for i in range(6)]
COLUMNS = ("user_query", "assistant_response")  # the second reads the first: two levels


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    with SimProcess(tmp_path_factory.mktemp("sim"), "--latency", "0") as server:
        yield server


@pytest.fixture(scope="module")
def flaky_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    with SimProcess(tmp_path_factory.mktemp("flaky"), "--latency", "0",
                    "--rate-batch-error", "0.4") as server:
        yield server


def recipe_at(sim: SimProcess, execution: str = "batch", max_retries: int = 6) -> Recipe:
    recipe = load_recipe("tiny", [f"models.0.inference_parameters.max_retries={max_retries}",
                                  f"models.0.execution={execution}"])
    return recipe.model_copy(update={
        "provider": "sim", "providers": [Provider(name="sim", endpoint=f"{sim.url}/v1")]})


def sim_batches(sim: SimProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{sim.url}/sim/batches", timeout=30) as response:
        return json.loads(response.read())


def run_batches(recipe: Recipe, store: Path, records: list[dict[str, Any]] = RECORDS
                ) -> BatchOutcome:
    with RequestStore(store) as opened:
        return generate_batches(recipe, opened, records, "gen/shard-0.parquet")


def texts(store: Path) -> dict[str, str]:
    return {k: a.text for k, a in RequestStore(store).load(0, len(RECORDS)).items()}


def test_batch_answers_are_the_online_store_entries(sim: SimProcess, tmp_path: Path) -> None:
    before = sim_batches(sim)["created"]
    outcome = run_batches(recipe_at(sim), tmp_path / "batch")
    with RequestStore(tmp_path / "online") as store:
        generator = BatchGenerator(recipe_at(sim, "online"), store, 4)
        _, summary = asyncio.run(generator.run(RECORDS))
    assert summary.requests_sent == 12 and summary.records_failed == 0
    # Same keys (the same request bodies), same answers: one store serves both modes.
    assert texts(tmp_path / "batch") == texts(tmp_path / "online")
    assert len(texts(tmp_path / "batch")) == 12 and not outcome.failed
    made = sim_batches(sim)["batches"][before:]
    assert [b["request_counts"]["total"] for b in made] == [6, 6]  # one batch per level
    state = json.loads(state_path(tmp_path / "batch", 0, 6).read_bytes())
    assert [e["batch_id"] for e in state["batches"]] == [b["id"] for b in made]
    assert [e["columns"] for e in state["batches"]] == [[COLUMNS[0]], [COLUMNS[1]]]


def test_failed_lines_are_retried_in_later_batches_and_nothing_is_lost(
        flaky_sim: SimProcess, tmp_path: Path) -> None:
    before = sim_batches(flaky_sim)["created"]
    outcome = run_batches(recipe_at(flaky_sim), tmp_path / "store")
    made = sim_batches(flaky_sim)["batches"][before:]
    assert not outcome.failed and len(texts(tmp_path / "store")) == 12
    assert len(made) > 2  # follow-up batches happened
    # Each follow-up asked exactly the lines its predecessor failed, nothing more.
    for earlier, later in itertools.pairwise(made):
        if earlier["request_counts"]["failed"]:
            assert later["request_counts"]["total"] == earlier["request_counts"]["failed"]
    asked = sum(b["request_counts"]["total"] for b in made)
    failed = sum(b["request_counts"]["failed"] for b in made)
    assert asked == 12 + failed


def test_lines_failing_every_round_become_failed_records_and_a_rerun_asks_only_them(
        flaky_sim: SimProcess, sim: SimProcess, tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = run_batches(recipe_at(flaky_sim, max_retries=0), store)
    assert first.failed and all("HTTP 500" in e for e in first.failed.values())
    with RequestStore(store) as opened:
        generator = BatchGenerator(recipe_at(flaky_sim, max_retries=0), opened, 4)
        generator.settled = first.failed
        results, summary = asyncio.run(generator.run(RECORDS))
    assert summary.requests_sent == 0  # failed batch lines are not re-sent online
    errors = [r[c].error for r in results for c in COLUMNS if r[c].error]
    assert errors and all(e.startswith(("batch ", "upstream column")) for e in errors)
    stored_before = len(texts(store))
    before = sim_batches(sim)["created"]
    second = run_batches(recipe_at(sim), store)
    made = sim_batches(sim)["batches"][before:]
    assert not second.failed and len(texts(store)) == 12
    assert sum(b["request_counts"]["total"] for b in made) == 12 - stored_before


def test_a_store_holding_some_answers_uploads_only_the_rest(sim: SimProcess,
                                                            tmp_path: Path) -> None:
    store = tmp_path / "store"
    run_batches(recipe_at(sim), store, RECORDS[:2])  # 4 answers already paid for
    before = sim_batches(sim)["created"]
    outcome = run_batches(recipe_at(sim), store)
    made = sim_batches(sim)["batches"][before:]
    assert [b["request_counts"]["total"] for b in made] == [4, 4]
    assert outcome.requests_sent == 8 and len(texts(store)) == 12


def test_a_provider_without_a_batch_api_fails_before_uploading(tmp_path: Path) -> None:
    recipe = load_recipe("tiny", ["models.0.execution=batch"])
    recipe = recipe.model_copy(update={"simulator": SimulatorSettings(batch_api=False)})
    with pytest.raises(ConfigError) as caught:
        run_batches(recipe, tmp_path / "store")
    message = str(caught.value)
    assert "model 'nvidia-text'" in message and "models[0].execution" in message
    assert "execution: online" in message and "404" in message
    assert not (tmp_path / "store" / "batches").exists()  # nothing was uploaded or recorded


def test_execution_is_in_no_stage_hash() -> None:
    online = load_recipe("tiny")
    batch = load_recipe("tiny", ["models.0.execution=batch"])
    assert batch.models[0].execution == "batch"
    assert stage_specs(online) == stage_specs(batch)
    knobs = load_recipe("tiny", ["simulator.batch_seconds=30", "simulator.rate_batch_error=0.5"])
    assert stage_specs(online) == stage_specs(knobs)


def test_expired_batches_keep_what_completed_and_the_rest_is_asked_again(
        tmp_path: Path) -> None:
    # Each batch expires half done: what completed is kept, a follow-up batch asks the rest,
    # and what max_retries leaves unanswered stays failed.
    with SimProcess(tmp_path / "sim", "--latency", "0", "--batch-seconds", "1",
                    "--batch-expire-seconds", "0.5") as expiring:
        outcome = run_batches(recipe_at(expiring, max_retries=1), tmp_path / "store")
        made = sim_batches(expiring)["batches"]
    assert [b["status"] for b in made] == ["expired"] * 4
    assert [b["request_counts"]["total"] for b in made] == [6, 3, 4, 2]
    assert [b["request_counts"]["completed"] for b in made] == [3, 1, 2, 1]
    assert len(texts(tmp_path / "store")) == 4 + 3
    assert len(outcome.failed) == 2 + 1
    assert all("batch_expired" in error for error in outcome.failed.values())


def test_a_batch_holds_only_what_the_budget_admits(sim: SimProcess, tmp_path: Path) -> None:
    recipe = recipe_at(sim)
    recipe = recipe.model_copy(update={"budget": recipe.budget.model_copy(
        update={"max_requests": 8})})
    before = sim_batches(sim)["created"]
    outcome = run_batches(recipe, tmp_path / "store")
    made = sim_batches(sim)["batches"][before:]
    assert [b["request_counts"]["total"] for b in made] == [6, 2]
    assert len(texts(tmp_path / "store")) == 8
    assert len(outcome.failed) == 4
    assert all(e.startswith("not sent: budget.max_requests") for e in outcome.failed.values())
    # The job stops the build on it, as online (generate/stage.py).
    assert outcome.budget_reached is not None and outcome.budget_reached.cap == "max_requests"


class Killed(BaseException):
    """Stands for a kill -9 at one exact point of the job."""


def test_killed_between_create_and_record_the_rerun_finds_the_batch(
        sim: SimProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saves = []
    real_save = ShardState.save

    def save_then_die_after_the_create(state: ShardState) -> None:
        saves.append(state.entries[-1]["batch_id"])
        if saves[-1] is not None:  # the batch exists at the provider but is not on disk
            raise Killed
        real_save(state)

    before = sim_batches(sim)["created"]
    monkeypatch.setattr(ShardState, "save", save_then_die_after_the_create)
    with pytest.raises(Killed):
        run_batches(recipe_at(sim), tmp_path / "store")
    monkeypatch.undo()
    state = json.loads(state_path(tmp_path / "store", 0, 6).read_bytes())
    assert [e["batch_id"] for e in state["batches"]] == [None]  # only the upload was recorded

    outcome = run_batches(recipe_at(sim), tmp_path / "store")
    made = sim_batches(sim)["batches"][before:]
    assert len(made) == 2 and made[0]["id"] == saves[-1]  # found, not made again
    assert outcome.batches_created == 1 and len(texts(tmp_path / "store")) == 12


def test_a_batch_failing_validation_stops_the_job_with_the_providers_reasons(
        sim: SimProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doubled = batch_module.input_lines
    monkeypatch.setattr(batch_module, "input_lines", lambda requests: doubled(requests) * 2)
    with pytest.raises(FatalEndpointError) as caught:
        run_batches(recipe_at(sim), tmp_path / "store")
    assert "rejected batch" in str(caught.value) and "appears twice" in str(caught.value)
    assert "execution: online" in str(caught.value)
    state = json.loads(state_path(tmp_path / "store", 0, 6).read_bytes())
    assert [(e["status"], e["collected"]) for e in state["batches"]] == [("failed", True)]


def test_a_recipe_mixing_batch_and_online_models_batches_only_the_batch_columns(
        sim: SimProcess, tmp_path: Path) -> None:
    recipe = recipe_at(sim)  # user_query's model is on batch
    online = recipe.models[0].model_copy(update={"alias": "online", "execution": "online"})
    columns = [c.model_copy(update={"model_alias": "online"}) if c.name == COLUMNS[1] else c
               for c in recipe.columns]
    recipe = recipe.model_copy(update={"models": [*recipe.models, online], "columns": columns})
    before, chats = sim_batches(sim)["created"], sim.stats()["requests"]
    store = tmp_path / "store"
    batched = run_batches(recipe, store)
    with RequestStore(store) as opened:
        generator = BatchGenerator(recipe, opened, 4)
        generator.batched = batched.fresh
        results, summary = asyncio.run(generator.run(RECORDS))
    made = sim_batches(sim)["batches"][before:]
    assert [b["request_counts"]["total"] for b in made] == [6]  # user_query only
    assert summary.requests_sent == 6  # assistant_response, online
    assert sim.stats()["requests"] - chats == 12  # 6 batch lines + 6 online calls
    assert all(not r[c].error and not r[c].from_store for r in results for c in COLUMNS)


def test_a_shard_too_large_for_one_batch_fails_before_uploading(
        sim: SimProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_module, "MAX_LINES", 5)  # stands for OpenAI's 50,000
    before = sim_batches(sim)["created"]
    with pytest.raises(ConfigError) as caught:
        run_batches(recipe_at(sim), tmp_path / "store")
    assert "shard_size" in str(caught.value) and "6 requests" in str(caught.value)
    assert sim_batches(sim)["created"] == before
    assert not state_path(tmp_path / "store", 0, 6).exists()
