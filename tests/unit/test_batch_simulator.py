"""The simulator's Batch API through the real openai client, in OpenAI's documented formats:
input lines {custom_id, method, url, body}; output and error lines {id, custom_id,
response: {status_code, request_id, body}, error}."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

from sdgflow.simulator import SimulatorSettings, create_app
from sdgflow.simulator import batches as sim_batches

URL = "/v1/chat/completions"


def chat_body(i: int) -> dict[str, Any]:
    return {"model": "sim-model", "seed": 1000 + i, "temperature": 0.7,
            "messages": [{"role": "user", "content": f"Write one question about topic {i}."}]}


def input_file(bodies: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps({"custom_id": f"req-{i}", "method": "POST", "url": URL,
                                "body": b}).encode() + b"\n" for i, b in enumerate(bodies))


def client_for(settings: SimulatorSettings) -> openai.AsyncOpenAI:
    app = create_app(settings)
    return openai.AsyncOpenAI(base_url="http://sim/v1", api_key="x", max_retries=0,
                              http_client=httpx2.AsyncClient(
                                  transport=httpx2.ASGITransport(app=app)))


async def submit(client: openai.AsyncOpenAI, content: bytes) -> Any:
    uploaded = await client.files.create(file=("in.jsonl", content), purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.bytes == len(content)
    return await client.batches.create(input_file_id=uploaded.id, endpoint=URL,
                                       completion_window="24h")


async def lines(client: openai.AsyncOpenAI, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    content = await client.files.content(file_id)
    return [json.loads(line) for line in content.content.splitlines()]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The simulator's batch clock, advanced by the test instead of waited for."""
    now = [1000.0]
    monkeypatch.setattr(sim_batches, "clock", lambda: now[0])
    yield now


def test_batch_answers_equal_online_answers_in_the_documented_format() -> None:
    async def run() -> tuple[Any, list[dict[str, Any]], list[str]]:
        client = client_for(SimulatorSettings(latency=0.0))
        bodies = [chat_body(i) for i in range(4)]
        created = await submit(client, input_file(bodies))
        assert created.status == "validating" and created.endpoint == URL
        batch = await client.batches.retrieve(created.id)
        output = await lines(client, batch.output_file_id)
        online = [(await client.chat.completions.create(**b)).choices[0].message.content
                  for b in bodies]
        await client.close()
        return batch, output, online

    batch, output, online = asyncio.run(run())
    assert batch.status == "completed" and batch.error_file_id is None
    assert (batch.request_counts.total, batch.request_counts.completed,
            batch.request_counts.failed) == (4, 4, 0)
    assert [line["custom_id"] for line in output] == [f"req-{i}" for i in range(4)]
    for line, text in zip(output, online, strict=True):
        assert set(line) == {"id", "custom_id", "response", "error"} and line["error"] is None
        assert line["response"]["status_code"] == 200 and line["response"]["request_id"]
        assert line["response"]["body"]["choices"][0]["message"]["content"] == text


def test_partial_failures_go_to_the_error_file_and_a_retry_is_answered() -> None:
    async def run() -> tuple[Any, list[dict[str, Any]], Any]:
        client = client_for(SimulatorSettings(latency=0.0, rate_batch_error=0.5))
        batch = await client.batches.retrieve(
            (await submit(client, input_file([chat_body(i) for i in range(20)]))).id)
        errors = await lines(client, batch.error_file_id)
        # The failed bodies again: a later attempt of the same request draws again.
        retry_bodies = [chat_body(int(e["custom_id"].split("-")[1])) for e in errors]
        retried = await client.batches.retrieve(
            (await submit(client, input_file(retry_bodies))).id)
        await client.close()
        return batch, errors, retried

    batch, errors, retried = asyncio.run(run())
    assert 0 < batch.request_counts.failed < 20
    assert batch.request_counts.completed + batch.request_counts.failed == 20
    assert len(errors) == batch.request_counts.failed
    for line in errors:
        assert line["response"]["status_code"] == 500
        assert line["response"]["body"]["error"]["type"] == "server_error"
    assert retried.request_counts.completed > 0


def test_processing_time_expiry_keeps_what_completed(clock: list[float]) -> None:
    async def run() -> tuple[list[str], Any, list[dict[str, Any]], list[dict[str, Any]]]:
        client = client_for(SimulatorSettings(latency=0.0, batch_seconds=100.0,
                                              batch_expire_seconds=50.0))
        batch = await submit(client, input_file([chat_body(i) for i in range(10)]))
        seen = []
        for moment in (10.0, 49.0, 60.0):
            clock[0] = 1000.0 + moment
            batch = await client.batches.retrieve(batch.id)
            seen.append(batch.status)
        output = await lines(client, batch.output_file_id)
        errors = await lines(client, batch.error_file_id)
        await client.close()
        return seen, batch, output, errors

    seen, batch, output, errors = asyncio.run(run())
    assert seen == ["in_progress", "in_progress", "expired"]
    assert batch.request_counts.completed == 5 and len(output) == 5  # half done at expiry
    assert [e["error"]["code"] for e in errors] == ["batch_expired"] * 5
    assert all(e["response"] is None for e in errors)


def test_a_batch_goes_through_the_documented_statuses(clock: list[float]) -> None:
    async def run() -> list[tuple[str, int]]:
        client = client_for(SimulatorSettings(latency=0.0, batch_seconds=100.0))
        batch = await submit(client, input_file([chat_body(i) for i in range(10)]))
        seen = [(batch.status, batch.request_counts.completed)]
        for moment in (30.0, 95.0, 100.0):
            clock[0] = 1000.0 + moment
            batch = await client.batches.retrieve(batch.id)
            seen.append((batch.status, batch.request_counts.completed))
        await client.close()
        return seen

    assert asyncio.run(run()) == [("validating", 0), ("in_progress", 3), ("finalizing", 9),
                                  ("completed", 10)]


def test_cancel_keeps_what_completed(clock: list[float]) -> None:
    async def run() -> tuple[Any, Any, list[dict[str, Any]]]:
        client = client_for(SimulatorSettings(latency=0.0, batch_seconds=10.0))
        batch = await submit(client, input_file([chat_body(i) for i in range(10)]))
        clock[0] += 3.0
        cancelling = await client.batches.cancel(batch.id)
        clock[0] += 100.0
        cancelled = await client.batches.retrieve(batch.id)
        errors = await lines(client, cancelled.error_file_id)
        await client.close()
        return cancelling, cancelled, errors

    cancelling, cancelled, errors = asyncio.run(run())
    assert cancelling.status == "cancelling" and cancelled.status == "cancelled"
    assert cancelled.request_counts.completed == 3
    assert {e["error"]["code"] for e in errors} == {"batch_cancelled"} and len(errors) == 7


def test_invalid_input_fails_the_batch_at_validation() -> None:
    async def run() -> Any:
        client = client_for(SimulatorSettings(latency=0.0))
        content = input_file([chat_body(0)]) * 2 + b"not json\n"
        batch = await submit(client, content)
        await client.close()
        return batch

    batch = asyncio.run(run())
    assert batch.status == "failed"
    codes = {(e.code, e.line) for e in batch.errors.data}
    assert codes == {("duplicate_custom_id", 2), ("invalid_json_line", 3)}


def test_batches_are_listed_and_counted() -> None:
    async def run() -> tuple[list[str], list[str], int]:
        client = client_for(SimulatorSettings(latency=0.0))
        ids = [(await submit(client, input_file([chat_body(i)]))).id for i in range(3)]
        listed = [b.id async for b in await client.batches.list(limit=2)]  # pages through
        counted = await client.get("/../sim/batches", cast_to=httpx2.Response)
        await client.close()
        return ids, listed, counted.json()["created"]

    ids, listed, created = asyncio.run(run())
    assert listed == ids[::-1] and created == 3


def test_no_batch_api_is_a_404_like_a_server_without_one() -> None:
    async def run() -> None:
        client = client_for(SimulatorSettings(latency=0.0, batch_api=False))
        try:
            with pytest.raises(openai.NotFoundError):
                await client.batches.list(limit=1)
            with pytest.raises(openai.NotFoundError):
                await client.files.create(file=("in.jsonl", b"{}\n"), purpose="batch")
        finally:
            await client.close()

    asyncio.run(run())
