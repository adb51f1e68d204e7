"""Hosted-endpoint limits against `sdgflow serve-sim` over HTTP: per-minute limits paced (and
learned from headers) across concurrent jobs, the spending cap, and `sdgflow plan`.

Requests and 429s are counted at the simulator, where an endpoint would count and bill them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import SimServer, point_recipe_at, sim_env, snakemake
from tests.workflow.test_generation import TARGET, generated, set_size

RECORDS, SHARD = 60, 30  # two generate jobs running at once (-j4)


def configure(project: Path, sim: SimServer, model_extra: str = "", extra: str = "") -> None:
    set_size(project, RECORDS, SHARD, "      max_parallel_requests: 8\n")
    if model_extra:
        path = project / "configs" / "customer_support_tools.yaml"
        text = path.read_text().replace("\n    inference_parameters:\n",
                                        f"\n{model_extra}    inference_parameters:\n", 1)
        path.write_text(text)
    point_recipe_at(project, "customer_support_tools", sim, extra)


def plan(project: Path, *overrides: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "sdgflow", "plan", "-c",
                           "customer_support_tools", "--json", *overrides], cwd=project,
                          capture_output=True, text=True, env={**os.environ, **sim_env()},
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def limited_sim(project: Path):
    # 600 a minute, enforced per second (10 a second) like OpenAI's quantized limits.
    server = SimServer(project, "--latency", "0.01", "--rpm", "600")
    yield server
    server.stop()


def refused(sim: SimServer) -> int:
    return sim.stats()["by_status"].get("429", 0)


def test_two_jobs_share_a_configured_limit(project: Path, limited_sim: SimServer) -> None:
    configure(project, limited_sim, "    rate_limits:\n      requests_per_minute: 600\n")
    run = snakemake(project, TARGET, env=sim_env())
    assert run.returncode == 0, run.output
    assert run.rules["generate"] == 2
    stats = limited_sim.stats()
    assert stats["completed"] == RECORDS
    # Paced together, the two jobs stay within 10 a second; each pacing alone at the full
    # limit would start 20 a second and be refused about half the time.
    assert refused(limited_sim) <= 1, stats


def test_limits_are_learned_from_headers_without_configuration(project: Path,
                                                               limited_sim: SimServer) -> None:
    configure(project, limited_sim)
    run = snakemake(project, TARGET, env=sim_env())
    assert run.returncode == 0, run.output
    stats = limited_sim.stats()
    assert stats["completed"] == RECORDS
    # Before the first answer nothing is known (up to 8 requests per job go out); after it,
    # the jobs keep to the limit the headers announce instead of learning it from 429s.
    assert refused(limited_sim) <= 0.1 * RECORDS, stats


def test_budget_stops_the_build_and_a_higher_cap_resumes_it(project: Path) -> None:
    sim = SimServer(project, "--latency", "0.01")
    try:
        configure(project, sim, extra="budget:\n  max_requests: 25\n")
        run = snakemake(project, TARGET, env=sim_env())
        assert run.returncode != 0
        # The build said what it would send before sending anything...
        announced = run.output.index(f"{RECORDS} requests to send, 0 answers in the store")
        assert announced < run.output.index("rule generate:")
        # ...and says which cap stopped it and how to continue.
        assert "budget.max_requests = 25 stopped this build" in run.output, run.output
        assert "set=[budget.max_requests=" in run.output
        paid = sim.stats()["completed"]
        # At most the requests in flight (8 per job) over the cap.
        assert 25 <= paid <= 25 + 2 * 8
        # The plan sees exactly what is missing, and asks the endpoint nothing.
        before = sim.stats()["requests"]
        planned = plan(project)
        assert planned["answers_in_store"] == paid
        assert planned["requests_to_send"] == RECORDS - paid
        assert planned["records_remaining"] == RECORDS - paid
        assert sim.stats()["requests"] == before
        # The message's override continues the build; nothing stored is asked again.
        run = snakemake(project, TARGET, "--config", "set=[budget.max_requests=100]",
                        env=sim_env())
        assert run.returncode == 0, run.output
        stats = sim.stats()
        assert stats["completed"] == RECORDS
        assert stats["repeated_completed"] == 0
        assert sorted(r["record_id"] for r in generated(project)) == list(range(RECORDS))
        assert plan(project)["requests_to_send"] == 0
    finally:
        sim.stop()


def test_plan_prints_costs_with_prices(project: Path) -> None:
    sim = SimServer(project, "--latency", "0.01")
    try:
        configure(project, sim, extra="report:\n  prices:\n    nvidia-text:\n"
                  "      input_per_mtok: 1.0\n      output_per_mtok: 2.0\n")
        planned = plan(project)
        assert planned["requests_to_send"] == RECORDS
        assert planned["answers_in_store"] == 0
        prompt = planned["estimated_prompt_tokens"]
        completion = planned["estimated_completion_tokens"]
        assert completion == RECORDS * 1800  # max_tokens: nothing observed yet
        assert planned["estimated_cost"] == pytest.approx((prompt * 1.0 + completion * 2.0)
                                                          / 1e6)
        assert sim.stats()["requests"] == 0
    finally:
        sim.stop()
