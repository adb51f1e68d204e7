"""The spending cap: the store's answers are what was paid; config errors name their key."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sdgflow.config.errors import ConfigError
from sdgflow.config.load import load_recipe
from sdgflow.config.models import Budget, ModelPrice
from sdgflow.generate.budget import BudgetGuard, BudgetReached, StoreTally
from sdgflow.generate.store import RequestStore, StoredAnswer

PRICE = ModelPrice(input_per_mtok=1.0, output_per_mtok=4.0)


def answer(record_id: int, prompt: int = 100, completion: int = 50,
           model: str = "m") -> StoredAnswer:
    return StoredAnswer(key=f"k{record_id}", record_id=record_id, column="c", text="t",
                        reasoning=None, finish_reason="stop", prompt_tokens=prompt,
                        completion_tokens=completion, latency_s=0.1, model=model,
                        provider="p")


def tally(root: Path) -> StoreTally:
    return StoreTally(root, {"m": PRICE}.get)


def test_tally_reads_every_writer_incrementally(tmp_path: Path) -> None:
    first, second = RequestStore(tmp_path), RequestStore(tmp_path)
    first.append(answer(1))
    counted = tally(tmp_path)
    assert counted.refresh().requests == 1
    second.append(answer(2, model="unpriced"))
    first.append(answer(1500, prompt=1000, completion=0))  # another block directory
    usage = counted.refresh()
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens) == (3, 1200, 100)
    # Priced answers only (per million tokens): 100*1 + 50*4, then 1000*1; "unpriced" is free.
    assert usage.cost == pytest.approx(1300 / 1e6)
    assert counted.refresh().requests == 3  # nothing new: nothing counted twice
    assert counted.mean_completion("c") == pytest.approx(100 / 3)
    first.close(), second.close()


def test_a_torn_last_line_is_counted_once_complete(tmp_path: Path) -> None:
    block = tmp_path / "b000000"
    block.mkdir()
    line = orjson.dumps(answer(3).__dict__)
    (block / "w.jsonl").write_bytes(line + b"\n" + line[:20])
    counted = tally(tmp_path)
    assert counted.refresh().requests == 1
    with (block / "w.jsonl").open("ab") as handle:
        handle.write(line[20:] + b"\n")
    assert counted.refresh().requests == 2


def test_guard_stops_at_max_requests_counting_its_own_in_flight(tmp_path: Path) -> None:
    store = RequestStore(tmp_path)
    for i in range(3):
        store.append(answer(i))
    guard = BudgetGuard(Budget(max_requests=5), tally(tmp_path))
    first, second = guard.admit(10, 0.0), guard.admit(10, 0.0)  # 3 paid + 2 in flight
    with pytest.raises(BudgetReached) as stopped:
        guard.admit(10, 0.0)
    assert stopped.value.cap == "max_requests"
    assert stopped.value.spent.requests == 5
    guard.settle(first), guard.settle(second)
    with pytest.raises(BudgetReached):  # once reached, the build sends nothing more
        guard.admit(10, 0.0)
    store.close()


def test_guard_counts_answers_other_jobs_store_meanwhile(tmp_path: Path) -> None:
    guard = BudgetGuard(Budget(max_tokens=1000), tally(tmp_path))
    reservation = guard.admit(300, 0.0)
    guard.settle(reservation)
    other = RequestStore(tmp_path)  # another job's answer lands in the store
    other.append(answer(7, prompt=600, completion=100))
    with pytest.raises(BudgetReached) as stopped:
        guard.admit(301, 0.0)
    assert stopped.value.cap == "max_tokens"
    other.close()


def test_guard_stops_on_cost(tmp_path: Path) -> None:
    guard = BudgetGuard(Budget(max_cost=0.01), tally(tmp_path))
    guard.admit(100, 0.006)
    with pytest.raises(BudgetReached) as stopped:
        guard.admit(100, 0.006)
    assert stopped.value.cap == "max_cost"


def test_no_caps_admit_everything_without_reading_the_store(tmp_path: Path) -> None:
    guard = BudgetGuard(Budget(), tally(tmp_path / "missing"))
    for _ in range(1000):
        guard.admit(10**9, 10**9)


@pytest.mark.parametrize(("override", "key"), [
    ("models.0.rate_limits.requests_per_minute=0", "requests_per_minute"),
    ("models.0.rate_limits.tokens_per_minute=-5", "tokens_per_minute"),
    ("budget.max_requests=0", "max_requests"),
    ("budget.max_dollars=5", "max_dollars"),
    ("budget.max_cost=5", "budget.max_cost"),  # no report.prices for the model
])
def test_bad_limits_and_caps_are_config_errors_naming_the_key(project: Path, override: str,
                                                              key: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_recipe("customer_support_tools", [override])
    assert key in str(error.value)
    assert "fix" in str(error.value) or "budget" in str(error.value)


def test_a_cost_cap_with_prices_loads(project: Path) -> None:
    recipe = load_recipe("customer_support_tools", [
        "budget.max_cost=5",
        "report.prices={nvidia-text: {input_per_mtok: 0.1, output_per_mtok: 0.5}}"])
    assert recipe.budget.caps == {"max_cost": 5.0}


def test_limits_budget_and_simulator_pacing_are_in_no_stage_hash(project: Path) -> None:
    from sdgflow.build.spec import digest, stage_specs

    base = {k: digest(v) for k, v in stage_specs(load_recipe("customer_support_tools")).items()}
    changed = load_recipe("customer_support_tools", [
        "models.0.rate_limits.requests_per_minute=30", "budget.max_requests=10",
        "simulator.rpm=100", "simulator.tpm=5000", "simulator.rate_html=0.5",
        "simulator.rate_stall=0.1", "simulator.rate_cut_body=0.1"])
    assert {k: digest(v) for k, v in stage_specs(changed).items()} == base
    # ...while a fault that changes what is answered still does.
    truncating = load_recipe("customer_support_tools", ["simulator.rate_truncate=0.5"])
    assert digest(stage_specs(truncating)["generate"]) != base["generate"]
