"""EndpointCaller against misbehaving proxies (issue 14, item 5), through the real openai client.

A 200 that is no chat completion (an HTML error page, a body cut short) and an answer that never
finishes arriving are transient: retried like a 5xx, and when retries run out the error says
what came back.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from sdgflow.config.providers import BUILTIN_PROVIDERS, OFFLINE
from sdgflow.generate.caller import CallFailed, CallResult, EndpointCaller, ErrorBreaker
from sdgflow.generate.retry import (
    NotACompletion,
    completion_from,
    request_deadline,
    retry_after,
)
from sdgflow.simulator import SimulatorSettings, create_app
from sdgflow.simulator.app import fingerprint
from sdgflow.simulator.faults import Outcome, plan_faults
from sdgflow.simulator.process import SimProcess

MODEL = "sim-model"


def caller_for(http_client: httpx2.AsyncClient, base_url: str, timeout: httpx2.Timeout,
               max_retries: int) -> EndpointCaller:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="x", http_client=http_client,
                                max_retries=0, timeout=timeout)
    return EndpointCaller(client, BUILTIN_PROVIDERS[OFFLINE], MODEL, 4, max_retries,
                          ErrorBreaker())


def in_process(app: Any, max_retries: int, timeout: float = 0.5) -> EndpointCaller:
    limits = httpx2.Timeout(timeout)
    http_client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), timeout=limits)
    return caller_for(http_client, "http://offline/v1", limits, max_retries)


def body(seed: int = 0) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": "hello"}], "seed": seed}


def call(caller: EndpointCaller, request: dict[str, Any]) -> CallResult:
    """One call, then the client closed (an aiohttp session left open warns at exit)."""

    async def go() -> CallResult:
        try:
            return await caller.call(request)
        finally:
            await caller.client.close()

    return asyncio.run(go())


def failure(caller: EndpointCaller, request: dict[str, Any]) -> CallFailed:
    with pytest.raises(CallFailed) as err:
        call(caller, request)
    return err.value


def test_html_page_with_200_is_retried_and_the_final_error_shows_it() -> None:
    app = create_app(SimulatorSettings(latency=0.0, rate_html=1.0))
    err = failure(in_process(app, max_retries=2), body())
    assert err.attempts == 3
    assert str(err) == ("NotACompletion: HTTP 200 text/html (not JSON, 41 bytes): "
                        "<html><body>502 Bad Gateway</body></html>")
    assert app.state.simulator.stats.by_status == {"html": 3}


def test_body_cut_short_is_retried_and_the_final_error_shows_its_start() -> None:
    app = create_app(SimulatorSettings(latency=0.0, rate_cut_body=1.0))
    err = failure(in_process(app, max_retries=1), body())
    assert err.attempts == 2
    message = str(err)
    assert message.startswith("NotACompletion: HTTP 200 application/json (JSON cut short, ")
    assert '): {"id":"chatcmpl-sim-' in message and message.endswith("...")
    assert "JSONDecodeError" not in message
    assert app.state.simulator.stats.by_status == {"cut_body": 2}


def first_attempt_gets(settings: SimulatorSettings, outcome: Outcome) -> dict[str, Any]:
    """A request whose first attempt the seeded plan gives `outcome` and whose second is OK."""
    for seed in range(1000):
        candidate = body(seed)
        fp = fingerprint(candidate)
        if (plan_faults(settings, fp, 0).outcome is outcome
                and plan_faults(settings, fp, 1).outcome is Outcome.OK):
            return candidate
    raise AssertionError(outcome)


@pytest.mark.parametrize(("knob", "outcome", "label"), [
    ("rate_html", Outcome.HTML, "html"),
    ("rate_cut_body", Outcome.CUT_BODY, "cut_body"),
    ("rate_stall", Outcome.STALL, "stall"),
    ("rate_reset", Outcome.RESET, "reset"),
])
def test_a_proxy_fault_is_retried_until_a_real_answer(knob: str, outcome: Outcome,
                                                      label: str) -> None:
    settings = SimulatorSettings(latency=0.0, **{knob: 0.5})
    app = create_app(settings)
    result = call(in_process(app, max_retries=1), first_attempt_gets(settings, outcome))
    assert result.attempts == 2 and result.response["choices"]
    assert app.state.simulator.stats.by_status == {label: 1, "200": 1}


def test_a_stalled_body_ends_at_the_request_deadline_over_http(tmp_path: Path) -> None:
    # The aiohttp transport the engine uses over HTTP: its read timeout bounds one read, and
    # the simulator sends a byte every 0.1 s, so only the deadline on the whole request ends it.
    with SimProcess(tmp_path, "--latency", "0", "--rate-stall", "1",
                    "--hang-seconds", "30") as sim:
        limits = httpx2.Timeout(0.5)
        caller = caller_for(openai.DefaultAioHttpClient(timeout=limits), f"{sim.url}/v1",
                            limits, max_retries=0)
        err = failure(caller, body())
    assert str(err).startswith("DeadlineExceeded: no complete answer within 0.5 s "
                               "(models[].inference_parameters.timeout)")


def response(content: bytes, content_type: str = "application/json",
             status: int = 200) -> httpx2.Response:
    return httpx2.Response(status, content=content, headers={"content-type": content_type})


def test_completion_from_names_what_came_back() -> None:
    completion = {"choices": [{"message": {"content": "hi"}}]}
    assert completion_from(response(b'{"choices": [{"message": {"content": "hi"}}]}')) \
        == completion
    cases = {
        b'{"error": {"message": "upstream overloaded"}}':
            'HTTP 200 application/json (JSON without a choices list, 45 bytes): '
            '{"error": {"message": "upstream overloaded"}}',
        b"": "HTTP 200 application/json (not JSON, 0 bytes): (empty body)",
        b"[1, 2]": "HTTP 200 application/json (JSON without a choices list, 6 bytes): [1, 2]",
        b"<html>\n<body>\n" + b"x" * 200:
            "HTTP 200 application/json (not JSON, 214 bytes): <html> <body> " + "x" * 106 + "...",
    }
    for content, message in cases.items():
        with pytest.raises(NotACompletion) as err:
            completion_from(response(content))
        assert str(err.value) == message


def test_retry_after_prefers_the_precise_milliseconds() -> None:
    def limited(headers: dict[str, str]) -> openai.RateLimitError:
        raw = httpx2.Response(429, headers=headers,
                              request=httpx2.Request("POST", "http://x/v1/chat/completions"))
        return openai.RateLimitError("limited", response=raw, body=None)

    assert retry_after(limited({"retry-after": "1", "retry-after-ms": "250"})) == 0.25
    assert retry_after(limited({"retry-after": "2"})) == 2.0
    assert retry_after(limited({"retry-after-ms": "soon", "retry-after": "3"})) == 3.0
    assert retry_after(limited({})) is None


def test_request_deadline_is_the_configured_timeout() -> None:
    assert request_deadline(httpx2.Timeout(30.0, connect=10.0)) == 30.0
    assert request_deadline(12) == 12.0
    assert request_deadline(None) is None
