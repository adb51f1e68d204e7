"""Generation building blocks: retry classification, the store, reasoning, request keys."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx2
import openai
import pytest

from sdgflow.generate.reasoning import split_reasoning
from sdgflow.generate.request import record_seed, request_key
from sdgflow.generate.retry import EmptyReply, Outcome, backoff, classify, retry_after
from sdgflow.generate.store import RequestStore, StoredAnswer


def status_error(cls: type, code: int, headers: dict[str, str] | None = None) -> Exception:
    request = httpx2.Request("POST", "http://x/v1/chat/completions")
    response = httpx2.Response(code, headers=headers or {}, request=request)
    return cls("boom", response=response, body=None)


@pytest.mark.parametrize("exc,outcome", [
    (status_error(openai.RateLimitError, 429), Outcome.RETRY),
    (status_error(openai.InternalServerError, 503), Outcome.RETRY),
    (status_error(openai.BadRequestError, 400), Outcome.FAIL),
    (status_error(openai.UnprocessableEntityError, 422), Outcome.FAIL),
    (status_error(openai.AuthenticationError, 401), Outcome.FATAL),
    (status_error(openai.PermissionDeniedError, 403), Outcome.FATAL),
    (status_error(openai.NotFoundError, 404), Outcome.FATAL),
    (openai.APITimeoutError(request=httpx2.Request("POST", "http://x")), Outcome.RETRY),
    (openai.APIConnectionError(request=httpx2.Request("POST", "http://x")), Outcome.RETRY),
    (EmptyReply("no choices"), Outcome.RETRY),
    (ValueError("bug"), Outcome.FAIL),
])
def test_retry_classification(exc: Exception, outcome: Outcome) -> None:
    assert classify(exc) is outcome


def test_retry_after_is_honoured() -> None:
    exc = status_error(openai.RateLimitError, 429, {"Retry-After": "7"})
    assert retry_after(exc) == 7.0
    assert all(backoff(0, server_wait=7.0) >= 7.0 for _ in range(20))
    assert all(backoff(10, cap=3.0) <= 3.0 for _ in range(20))


def answer(record_id: int, key: str) -> StoredAnswer:
    return StoredAnswer(key=key, record_id=record_id, column="c", text=f"t{record_id}",
                        reasoning=None, finish_reason="stop", prompt_tokens=1,
                        completion_tokens=2, latency_s=0.1, model="m", provider="offline")


def test_store_round_trip_across_writers_and_blocks(tmp_path: Path) -> None:
    with RequestStore(tmp_path) as one, RequestStore(tmp_path) as two:
        one.append(answer(5, "a"))
        two.append(answer(1500, "b"))
        one.append(answer(999, "c"))
    loaded = RequestStore(tmp_path).load(0, 2000)
    assert set(loaded) == {"a", "b", "c"}
    assert set(RequestStore(tmp_path).load(1000, 2000)) == {"b"}
    # One file per (writer, block): writer one wrote records 5 and 999 (block 0) only.
    files = sorted(p.relative_to(tmp_path).parts[0] for p in tmp_path.glob("b*/*.jsonl"))
    assert files == ["b000000", "b000001"]


CRASHING_WRITER = """
import os, sys
from sdgflow.generate.store import RequestStore, StoredAnswer
store = RequestStore(sys.argv[1])
for i in range(3):
    store.append(StoredAnswer(key=f"k{i}", record_id=i, column="c", text="x", reasoning=None,
                 finish_reason="stop", prompt_tokens=1, completion_tokens=1, latency_s=0.1,
                 model="m", provider="p"))
handle = next(iter(store._handles.values()))
handle.write(b'{"key": "torn", "record_id": 3, "col')  # a write cut short by the kill
handle.flush()
os._exit(137)
"""


def test_store_survives_a_crash_mid_write(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(tmp_path)])
    assert result.returncode == 137
    loaded = RequestStore(tmp_path).load(0, 10)
    assert set(loaded) == {"k0", "k1", "k2"}


def test_store_write_failure_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        store = RequestStore("/proc/sdgflow-cannot-write-here")
    else:
        (tmp_path / "ro").mkdir(mode=0o500)
        store = RequestStore(tmp_path / "ro")
    from sdgflow.config.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot write to the response store"):
        store.append(answer(1, "k"))


def message(content: str | None, **extra: str) -> dict:
    return {"content": content, **extra}


@pytest.mark.parametrize("msg,text,reasoning", [
    (message('{"a": 1}'), '{"a": 1}', None),
    (message('{"a": 1}', reasoning_content="think"), '{"a": 1}', "think"),
    (message('{"a": 1}', reasoning="plan"), '{"a": 1}', "plan"),
    (message('<think>\nstep 1\n</think>\n{"a": 1}'), '{"a": 1}', "step 1"),
    (message(None, reasoning_content="only"), "", "only"),
])
def test_reasoning_never_leaks_into_text(msg, text: str, reasoning: str | None) -> None:
    assert split_reasoning(msg) == (text, reasoning)


def test_identical_prompts_in_two_records_are_two_requests() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "same"}]}
    assert request_key(1, "c", "p", body) != request_key(2, "c", "p", body)
    assert record_seed(0, 1, "c") != record_seed(0, 2, "c")
    assert request_key(1, "c", "p", body) == request_key(1, "c", "p", dict(body))
    assert request_key(1, "c", "offline", body) != request_key(1, "c", "nvidia", body)


def test_limiter_never_exceeds_its_limit_serves_fifo_and_adapts() -> None:
    import asyncio

    from sdgflow.generate.limiter import AdaptiveLimiter

    async def scenario() -> tuple[int, list[int], float, int]:
        limiter = AdaptiveLimiter(4)
        peak, order = 0, []

        async def request(i: int) -> None:
            nonlocal peak
            await limiter.acquire()
            order.append(i)
            peak = max(peak, limiter.in_flight)
            await asyncio.sleep(0)
            limiter.release()

        await asyncio.gather(*(request(i) for i in range(40)))
        await limiter.acquire()
        limiter.release(throttled=True)  # a 429: the limit halves
        halved = limiter.limit
        for _ in range(200):  # successes grow it back to the ceiling, never past it
            await limiter.acquire()
            limiter.release()
        return peak, order, halved, int(limiter.limit)

    peak, order, halved, regrown = asyncio.run(scenario())
    assert peak == 4
    assert order == list(range(40))  # first come, first served
    assert halved == 2.0 and regrown == 4
