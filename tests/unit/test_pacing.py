"""MinutePacer: per-minute limits booked before sending, shared through a file, learned from
headers. A fixed clock makes every start time exact."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sdgflow.config.models import RateLimits
from sdgflow.generate import pacing
from sdgflow.generate.pacing import BURST_S, MinutePacer

NOW = 1_000_000.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [NOW]
    monkeypatch.setattr(pacing.time, "time", lambda: now[0])
    return now


def starts(pacer: MinutePacer, n: int, tokens: int = 1) -> list[float]:
    return [pacer.reserve(tokens) - NOW for _ in range(n)]


def test_requests_per_minute_spaces_starts_after_a_half_second_burst(clock: list[float]) -> None:
    pacer = MinutePacer(RateLimits(requests_per_minute=600))  # one every 0.1 s
    got = starts(pacer, 12)
    burst = int(BURST_S / 0.1) + 1  # the first ones fit in the burst allowance
    assert got[:burst] == [0.0] * burst
    for k in range(burst, 12):
        assert got[k] == pytest.approx((k - burst + 1) * 0.1)


def test_tokens_per_minute_bounds_tokens_not_requests(clock: list[float]) -> None:
    pacer = MinutePacer(RateLimits(tokens_per_minute=6000))  # 100 tokens a second
    got = starts(pacer, 4, tokens=100)
    # 100 tokens each: the first starts now, then one per second once the burst is used.
    assert got[0] == 0.0
    assert got[3] - got[2] == pytest.approx(1.0)
    assert got[3] == pytest.approx(3.0 - BURST_S)


def test_without_limits_the_first_request_goes_alone_until_an_answer(clock: list[float]
                                                                     ) -> None:
    async def scenario() -> list[str]:
        pacer = MinutePacer(RateLimits())
        order: list[str] = []

        async def send(name: str) -> None:
            await pacer.admit(100)
            order.append(name)

        probe = asyncio.create_task(send("probe"))
        others = [asyncio.create_task(send(f"r{i}")) for i in range(3)]
        await probe
        await asyncio.sleep(0)  # let the others reach their wait
        assert not any(t.done() for t in others)  # they wait for the probe's answer
        order.append("answer")
        pacer.learn({})  # an answer without limit headers: nothing to keep
        await asyncio.gather(*others)
        assert pacer.limits() == (None, None) and pacer.waited_s == 0.0
        return order

    assert asyncio.run(scenario()) == ["probe", "answer", "r0", "r1", "r2"]


def test_a_dropped_probe_still_releases_the_others(clock: list[float]) -> None:
    async def scenario() -> None:
        pacer = MinutePacer(RateLimits())
        await pacer.admit(1)
        waiting = asyncio.create_task(pacer.admit(1))
        await asyncio.sleep(0)
        pacer.learn(None)  # the connection dropped: no headers, but the probe is over
        await waiting

    asyncio.run(scenario())


def test_what_one_job_learned_the_next_starts_with(clock: list[float], tmp_path: Path) -> None:
    path = tmp_path / "schedule"
    first = MinutePacer(RateLimits(), shared_path=path)
    first.learn({"x-ratelimit-limit-requests": "600"})
    later = MinutePacer(RateLimits(), shared_path=path)
    assert later.limits() == (600.0, None)

    async def no_probe() -> None:  # informed: it paces at once instead of probing
        await later.admit(1)
        await later.admit(1)

    asyncio.run(no_probe())
    assert later.reserve(1) - NOW == pytest.approx(0.0)  # still within the burst
    first.close(), later.close()


def test_two_jobs_share_one_schedule_through_the_file(clock: list[float], tmp_path: Path
                                                     ) -> None:
    path = tmp_path / "schedule"
    limits = RateLimits(requests_per_minute=60)  # one a second
    a, b = MinutePacer(limits, shared_path=path), MinutePacer(limits, shared_path=path)
    got = [a.reserve(1) - NOW, b.reserve(1) - NOW, a.reserve(1) - NOW, b.reserve(1) - NOW]
    # Together they keep one request a second, as one job would.
    assert got == pytest.approx([0.0, 0.5, 1.5, 2.5])
    alone = MinutePacer(limits, shared_path=tmp_path / "other")
    assert alone.reserve(1) - NOW == 0.0
    a.close(), b.close(), alone.close()


def test_a_fixed_share_slows_a_job_to_its_part_of_the_limit(clock: list[float]) -> None:
    pacer = MinutePacer(RateLimits(requests_per_minute=600), share=0.25)
    assert pacer.limits() == (150.0, None)
    got = starts(pacer, 4)
    assert got[3] - got[2] == pytest.approx(0.4)


def test_learns_limits_from_headers_and_the_lower_configured_one_wins(clock: list[float]
                                                                      ) -> None:
    pacer = MinutePacer(RateLimits())
    pacer.learn({"x-ratelimit-limit-requests": "3000", "x-ratelimit-remaining-requests": "2999",
                 "x-ratelimit-reset-requests": "20ms", "x-ratelimit-limit-tokens": "150000",
                 "x-ratelimit-remaining-tokens": "149000", "x-ratelimit-reset-tokens": "400ms"})
    assert pacer.limits() == (3000.0, 150000.0)
    configured = MinutePacer(RateLimits(requests_per_minute=100, tokens_per_minute=10**9))
    configured.learn({"x-ratelimit-limit-requests": "3000",
                      "x-ratelimit-limit-tokens": "150000"})
    assert configured.limits() == (100.0, 150000.0)


def test_exhausted_remaining_pauses_until_the_reset(clock: list[float]) -> None:
    pacer = MinutePacer(RateLimits())
    pacer.learn({"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "0",
                 "x-ratelimit-reset-requests": "6m0s"})
    assert pacer.reserve(1) - NOW == pytest.approx(360.0)


def test_garbage_headers_teach_nothing(clock: list[float]) -> None:
    pacer = MinutePacer(RateLimits())
    pacer.learn({"x-ratelimit-limit-requests": "lots", "x-ratelimit-remaining-requests": "0",
                 "x-ratelimit-reset-requests": "soon"})
    assert pacer.limits() == (None, None)


def test_a_retry_after_pause_holds_every_start(clock: list[float]) -> None:
    pacer = MinutePacer(RateLimits(requests_per_minute=6000))
    pacer.pause(2.0)
    assert pacer.reserve(1) - NOW == pytest.approx(2.0)


def test_usage_corrects_the_token_booking(clock: list[float]) -> None:
    pacer = MinutePacer(RateLimits(tokens_per_minute=6000))  # 100 tokens a second
    pacer.reserve(1000)  # booked 10 s of tokens
    pacer.correct(estimated=1000, used=100)  # used one second's worth: 9 s come back
    assert pacer.reserve(100) - NOW == pytest.approx(1.0 - BURST_S)


def test_a_completion_without_headers_forgets_a_limit_learned_before(clock: list[float],
                                                                     tmp_path: Path) -> None:
    pacer = MinutePacer(RateLimits(), shared_path=tmp_path / "schedule")
    pacer.learn({"x-ratelimit-limit-requests": "60"})
    pacer.learn({})  # an error answer (a proxy's page): says nothing either way
    assert pacer.limits() == (60.0, None)
    pacer.learn({}, completion=True)  # the endpoint answers without limits now
    assert pacer.limits() == (None, None)
    pacer.close()


def test_a_slurm_job_paces_its_fixed_share_privately(monkeypatch: pytest.MonkeyPatch) -> None:
    from sdgflow.config.models import ModelConfig, Provider
    from sdgflow.generate.pacing import job_pacer

    model = ModelConfig(alias="a", model="m", provider="p",
                        rate_limits=RateLimits(requests_per_minute=600))
    provider = Provider(name="p", endpoint="http://x/v1")
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    on_slurm = job_pacer(model, provider, fixed_share=4 / 16)
    assert on_slurm.limits() == (150.0, None)
    monkeypatch.delenv("SLURM_JOB_ID")
    local = job_pacer(model, provider, fixed_share=4 / 16)  # local jobs share one schedule
    assert local.limits() == (600.0, None)
    local.close()
