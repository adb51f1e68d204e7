"""Fixtures of the reliability catalogue: the results file and simulators stopped at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import SIM_KEY
from tests.reliability.catalogue import Catalogue, Sim, results_path


@pytest.fixture(scope="session")
def catalogue(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    default = cache.mkdir("sdgflow-reliability") if cache else tmp_path_factory.getbasetemp()
    return Catalogue(results_path(Path(default)))


@pytest.fixture
def start_sim(project: Path) -> Iterator[Callable[..., Sim]]:
    """`start_sim(*knobs, key=...)` starts a simulator; every one is stopped after the test."""
    started: list[Sim] = []

    def start(*knobs: str, key: str = SIM_KEY) -> Sim:
        sim = Sim(project, "--latency", "0.01", *knobs, key=key)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Stamp each catalogue row with its test's outcome, so the table shows known gaps."""
    outcome = yield
    report = outcome.get_result()
    catalogue = getattr(item, "funcargs", {}).get("catalogue")
    if report.when != "call" or catalogue is None:
        return
    if hasattr(report, "wasxfail"):
        result, note = "gap", report.wasxfail.removeprefix("reason: ")
    elif report.passed:
        result, note = "pass", ""
    else:
        result, note = "fail", str(report.longrepr).splitlines()[-1][:300]
    catalogue.set_result(item.nodeid, result, note)
