"""The offline simulator through the real openai client: in-process (ASGI) and over HTTP."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import jinja2
import json_repair
import openai
import pytest
import typer
import yaml

from sdgflow.ratelimit_headers import RATELIMIT_HEADERS, parse_duration
from sdgflow.simulator import SimulatorSettings, create_app
from sdgflow.simulator.app import fingerprint
from sdgflow.simulator.conversations import choose_tool, parse_tools
from sdgflow.simulator.faults import Outcome, plan_faults
from sdgflow.simulator.limits import PerMinuteLimits

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "customer_support_tools.yaml"

ROWS = [
    dict(
        customer_name="Priya",
        issue="late delivery",
        order_id="ORD-10492",
        product="wireless headphones",
        policy_hint="Orders delayed more than 5 days qualify for free expedited shipping.",
        urgency="frustrated",
        channel="web_chat",
    ),
    dict(
        customer_name="Marco",
        issue="charged twice for the same order",
        order_id="ORD-20931",
        product="espresso machine",
        policy_hint="Duplicate charges are refunded in full within 5 business days.",
        urgency="calm",
        channel="email_followup",
    ),
    dict(
        customer_name="Aisha",
        issue="needs to change the shipping address",
        order_id="ORD-33810",
        product="standing desk",
        policy_hint="Addresses can be changed until the order ships.",
        urgency="rushed",
        channel="mobile_app",
    ),
    dict(
        customer_name="Tom",
        issue="blender stopped working after two weeks",
        order_id="ORD-47122",
        product="blender",
        policy_hint="Defective items are replaced free within the one-year warranty.",
        urgency="confused",
        channel="web_chat",
    ),
    dict(
        customer_name="Lena",
        issue="subscription renewal came early",
        order_id="ORD-55018",
        product="coffee subscription",
        policy_hint="Renewals can be cancelled up to 24 hours before billing.",
        urgency="calm",
        channel="mobile_app",
    ),
]
EXPECTED_TOOL = [
    "lookup_order",
    "check_refund_eligibility",
    "update_shipping_address",
    "verify_warranty",
    "get_subscription_status",
]


def reference_prompt(row: dict[str, str]) -> str:
    recipe = yaml.safe_load(RECIPE.read_text())
    template = next(c for c in recipe["columns"] if c["name"] == "conversation")["prompt"]
    return jinja2.Template(template).render(**row)


def client_for(app: Any, **kwargs: Any) -> openai.AsyncOpenAI:
    """The in-process incantation the `offline` provider uses."""
    return openai.AsyncOpenAI(
        base_url="http://offline/v1",
        api_key=kwargs.pop("api_key", "x"),
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)),
        max_retries=0,
        **kwargs,
    )


def ask(settings: SimulatorSettings, content: str, **params: Any) -> Any:
    """One chat completion against a fresh in-process simulator."""
    app = create_app(settings)

    async def go() -> Any:
        client = client_for(app)
        return await client.chat.completions.create(
            model=params.pop("model", "sim-model"),
            messages=[{"role": "user", "content": content}],
            **params,
        )

    return asyncio.run(go())


def check_conversation(conv: dict[str, Any], row: dict[str, str]) -> None:
    """The prompt's structural rules, as a reviewer would check them."""
    assert list(conv) == ["tools", "messages"]
    for tool in conv["tools"]:
        fn = tool["function"]
        assert tool["type"] == "function" and fn["name"] and fn["description"]
        assert fn["parameters"]["type"] == "object"
        assert set(fn["parameters"]["required"]) <= set(fn["parameters"]["properties"])
    messages = conv["messages"]
    assert 6 <= len(messages) <= 10
    assert messages[0]["role"] == "system"
    assert messages[-1]["role"] == "assistant"
    calls = [i for i, m in enumerate(messages) if m.get("tool_calls")]
    tools = [i for i, m in enumerate(messages) if m["role"] == "tool"]
    assert len(calls) == 1 and len(tools) == 1 and tools[0] == calls[0] + 1
    call_msg, tool_msg = messages[calls[0]], messages[tools[0]]
    assert call_msg["role"] == "assistant" and call_msg["content"] == ""
    (call,) = call_msg["tool_calls"]
    assert re.fullmatch(r"call_[a-z_]+_\d{3}", call["id"]) and call["type"] == "function"
    assert tool_msg["tool_call_id"] == call["id"]
    assert tool_msg["name"] == call["function"]["name"]
    assert call["function"]["name"] in {t["function"]["name"] for t in conv["tools"]}
    assert len(conv["tools"]) >= 2
    args, result = call["function"]["arguments"], tool_msg["content"]
    assert isinstance(args, dict) and args["order_id"] == row["order_id"]
    assert isinstance(result, dict)
    # Imperfect info first, then a clarifying question before the tool call.
    assert row["order_id"] not in messages[1]["content"] and messages[1]["role"] == "user"
    assert any(
        m["role"] == "assistant" and m["content"].endswith("?") for m in messages[2 : calls[0]]
    )
    final = messages[tools[0] + 1]
    assert final["role"] == "assistant"
    cited = [str(v) for k, v in result.items() if k != "order_id" and not isinstance(v, bool)]
    assert any(v in final["content"] for v in cited)
    assert row["policy_hint"] in final["content"]
    for m in messages:
        if isinstance(m.get("content"), str):
            assert not re.search(r"[*#`]|^\s*[-+] ", m["content"], re.MULTILINE)


# -- replies -------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(ROWS)))
def test_reference_prompt_reply_is_a_valid_conversation(index: int) -> None:
    row = ROWS[index]
    prompt = reference_prompt(row)
    app = create_app(SimulatorSettings(latency=0.0))

    async def go() -> list[Any]:
        client = client_for(app)
        return [
            await client.chat.completions.create(
                model="openai/gpt-oss-20b",
                messages=[{"role": "user", "content": prompt}],
                seed=seed,
                temperature=0.75,
                top_p=0.95,
                max_tokens=1800,
            )
            for seed in range(10)
        ]

    for reply in asyncio.run(go()):
        assert reply.choices[0].finish_reason == "stop"
        assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
        content = reply.choices[0].message.content
        assert content.startswith("{") and content.endswith("}")
        conv = json.loads(content)
        check_conversation(conv, row)
        tool_call = next(m for m in conv["messages"] if m.get("tool_calls"))["tool_calls"][0]
        assert tool_call["function"]["name"] == EXPECTED_TOOL[index]


def test_replies_vary_across_seeds_and_repeat_for_the_same_seed() -> None:
    prompt = reference_prompt(ROWS[0])
    app = create_app(SimulatorSettings(latency=0.0))

    async def go(seeds: range) -> list[str]:
        client = client_for(app)
        out = []
        for seed in seeds:
            r = await client.chat.completions.create(
                model="sim-model", messages=[{"role": "user", "content": prompt}], seed=seed
            )
            out.append(r.choices[0].message.content)
        return out

    first, again = asyncio.run(go(range(30))), asyncio.run(go(range(30)))
    assert len(set(first)) >= 20
    assert first == again
    other_sim = ask(SimulatorSettings(latency=0.0, seed=1), prompt, seed=0)
    assert other_sim.choices[0].message.content != first[0]


def test_extra_turns_stay_within_ten_messages() -> None:
    prompt = reference_prompt(ROWS[1])
    lengths = set()
    for seed in range(20):
        r = ask(SimulatorSettings(latency=0.0, rate_extra_turns=1.0), prompt, seed=seed)
        conv = json.loads(r.choices[0].message.content)
        check_conversation(conv, ROWS[1])
        lengths.add(len(conv["messages"]))
    assert max(lengths) <= 10 and 9 in lengths


def test_tool_follows_the_issue_and_falls_back_to_an_offered_tool() -> None:
    tools = parse_tools(reference_prompt(ROWS[0]))
    assert [t.name for t in tools] == EXPECTED_TOOL
    assert choose_tool("I was charged twice", tools).name == "check_refund_eligibility"
    assert choose_tool("double charge on my card", tools).name == "check_refund_eligibility"
    assert choose_tool("wrong address on the label", tools).name == "update_shipping_address"
    assert choose_tool("the screen arrived broken", tools).name == "verify_warranty"
    assert choose_tool("billing question", tools).name == "get_subscription_status"
    assert choose_tool("tracking has not updated", tools).name == "lookup_order"
    assert choose_tool("something odd", tools[2:3]).name == "update_shipping_address"


def test_other_prompts_get_plain_text_with_the_prompts_key_words() -> None:
    prompt = (
        "Write a realistic user query about sourdough fermentation from the perspective "
        "of a retired chemist."
    )
    replies = {
        ask(SimulatorSettings(latency=0.0), prompt, seed=s).choices[0].message.content
        for s in range(6)
    }
    assert len(replies) > 1
    for text in replies:
        assert not text.startswith("{")
        assert any(w in text for w in ("sourdough", "fermentation", "retired", "chemist"))


# -- service model -------------------------------------------------------------------------------


def test_slots_bound_concurrency_and_requests_queue() -> None:
    slots, latency, n = 16, 0.05, 200
    app = create_app(SimulatorSettings(latency=latency, slots=slots))

    async def go() -> float:
        client = client_for(app)
        began = time.monotonic()
        await asyncio.gather(
            *(
                client.chat.completions.create(
                    model="sim-model", messages=[{"role": "user", "content": f"question {i}"}]
                )
                for i in range(n)
            )
        )
        return time.monotonic() - began

    elapsed = asyncio.run(go())
    stats = app.state.simulator.stats.snapshot()
    assert stats["max_in_flight"] == slots
    assert stats["queued_max"] > 0
    assert stats["requests"] == stats["completed"] == n
    assert stats["fingerprints_completed"] == n and stats["repeated_completed"] == 0
    assert elapsed >= math.ceil(n / slots) * latency
    assert stats["busy_slot_seconds"] >= n * latency * 0.99
    assert stats["first_request_at"] <= stats["last_response_at"]


def test_repeated_identical_request_is_counted_once_completed() -> None:
    app = create_app(SimulatorSettings(latency=0.0))

    async def go() -> None:
        client = client_for(app)
        for seed in (1, 1, 2):
            await client.chat.completions.create(
                model="sim-model", messages=[{"role": "user", "content": "hi"}], seed=seed
            )

    asyncio.run(go())
    stats = app.state.simulator.stats.snapshot()
    assert stats["completed"] == 3
    assert stats["fingerprints_completed"] == 2 and stats["repeated_completed"] == 1


def test_stats_reset_and_models_endpoints() -> None:
    app = create_app(SimulatorSettings(latency=0.0))

    async def go() -> tuple[Any, Any, Any]:
        client = client_for(app)
        await client.chat.completions.create(
            model="sim-model", messages=[{"role": "user", "content": "hi"}]
        )
        models = await client.models.list()
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://offline"
        ) as raw:
            before = (await raw.get("/sim/stats")).json()
            await raw.post("/sim/reset")
            after = (await raw.get("/sim/stats")).json()
        return models, before, after

    models, before, after = asyncio.run(go())
    assert {m.id for m in models.data} >= {
        "openai/gpt-oss-20b",
        "google/gemma-4-31B-it",
        "sim-model",
    }
    assert before["completed"] == 1 and before["by_status"] == {"200": 1}
    assert after["requests"] == 0 and after["completed"] == 0


# -- faults --------------------------------------------------------------------------------------


def test_fault_429_has_retry_after() -> None:
    with pytest.raises(openai.RateLimitError) as err:
        ask(SimulatorSettings(latency=0.0, rate_429=1.0, retry_after=3), "hi")
    assert err.value.response.headers["retry-after"] == "3"
    assert err.value.code == "rate_limit_exceeded"


def test_fault_500() -> None:
    with pytest.raises(openai.InternalServerError):
        ask(SimulatorSettings(latency=0.0, rate_500=1.0), "hi")


def test_fault_reset_is_a_connection_error() -> None:
    with pytest.raises(openai.APIConnectionError):
        ask(SimulatorSettings(latency=0.0, rate_reset=1.0), "hi")


def test_fault_hang_ends_in_a_client_timeout() -> None:
    with pytest.raises(openai.APITimeoutError):
        ask(SimulatorSettings(latency=0.0, rate_hang=1.0), "hi", timeout=0.2)


def test_fault_empty_choices() -> None:
    assert ask(SimulatorSettings(latency=0.0, rate_empty_choices=1.0), "hi").choices == []


def test_fault_truncate() -> None:
    r = ask(SimulatorSettings(latency=0.0, rate_truncate=1.0), reference_prompt(ROWS[0]))
    assert r.choices[0].finish_reason == "length"
    content = r.choices[0].message.content
    assert content.startswith("{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_max_tokens_truncates_like_a_real_endpoint() -> None:
    r = ask(SimulatorSettings(latency=0.0), reference_prompt(ROWS[0]), max_tokens=50)
    assert r.choices[0].finish_reason == "length"
    assert len(r.choices[0].message.content) == 200


def test_fault_fenced() -> None:
    content = (
        ask(SimulatorSettings(latency=0.0, rate_fenced=1.0), reference_prompt(ROWS[0]))
        .choices[0]
        .message.content
    )
    preamble, fence, rest = content.split("\n", 2)
    assert preamble and fence == "```json" and rest.endswith("\n```")
    check_conversation(json.loads(rest.removesuffix("```")), ROWS[0])


def test_fault_malformed_is_repairable() -> None:
    kinds = set()
    for seed in range(12):
        content = (
            ask(
                SimulatorSettings(latency=0.0, rate_malformed=1.0),
                reference_prompt(ROWS[0]),
                seed=seed,
            )
            .choices[0]
            .message.content
        )
        with pytest.raises(json.JSONDecodeError):
            json.loads(content)
        kinds.add("trailing_comma" if ",\n}" in content else "single_quotes")
        check_conversation(json_repair.loads(content), ROWS[0])
    assert kinds == {"trailing_comma", "single_quotes"}


def test_fault_escaped_args() -> None:
    content = (
        ask(SimulatorSettings(latency=0.0, rate_escaped_args=1.0), reference_prompt(ROWS[0]))
        .choices[0]
        .message.content
    )
    messages = json.loads(content)["messages"]
    call = next(m for m in messages if m.get("tool_calls"))["tool_calls"][0]
    tool = next(m for m in messages if m["role"] == "tool")
    assert isinstance(call["function"]["arguments"], str)
    assert json.loads(call["function"]["arguments"])["order_id"] == ROWS[0]["order_id"]
    assert isinstance(tool["content"], str) and isinstance(json.loads(tool["content"]), dict)


def test_fault_reasoning_rotates_between_the_three_places() -> None:
    places = set()
    for seed in range(15):
        msg = (
            ask(
                SimulatorSettings(latency=0.0, rate_reasoning=1.0),
                reference_prompt(ROWS[0]),
                seed=seed,
            )
            .choices[0]
            .message
        )
        extra = msg.model_extra or {}
        if extra.get("reasoning_content"):
            places.add("reasoning_content")
        elif extra.get("reasoning"):
            places.add("reasoning")
        else:
            assert msg.content.startswith("<think>")
            places.add("think")
            msg.content = msg.content.split("</think>\n", 1)[1]
        json.loads(msg.content)
    assert places == {"reasoning_content", "reasoning", "think"}


def test_fault_reasoning_only() -> None:
    for seed in range(6):
        msg = (
            ask(SimulatorSettings(latency=0.0, rate_reasoning_only=1.0), "hi", seed=seed)
            .choices[0]
            .message
        )
        extra = msg.model_extra or {}
        assert msg.content in ("", None)
        assert extra.get("reasoning_content") or extra.get("reasoning")


def test_wrong_api_key_gets_401_and_the_right_one_works() -> None:
    settings = SimulatorSettings(latency=0.0, api_key="secret")
    app = create_app(settings)

    async def go(key: str) -> Any:
        return await client_for(app, api_key=key).chat.completions.create(
            model="sim-model", messages=[{"role": "user", "content": "hi"}]
        )

    with pytest.raises(openai.AuthenticationError) as err:
        asyncio.run(go("wrong"))
    assert err.value.code == "invalid_api_key"
    assert asyncio.run(go("secret")).choices


def test_unknown_model_gets_404() -> None:
    with pytest.raises(openai.NotFoundError) as err:
        ask(SimulatorSettings(latency=0.0), "hi", model="no-such-model")
    assert err.value.code == "model_not_found"


def test_fault_decisions_are_seeded_and_a_retry_can_succeed() -> None:
    settings = SimulatorSettings(latency=0.0, rate_500=0.5)

    def outcomes() -> list[str]:
        app = create_app(settings)

        async def go() -> list[str]:
            client = client_for(app)
            out = []
            for _ in range(16):
                try:
                    await client.chat.completions.create(
                        model="sim-model", messages=[{"role": "user", "content": "same"}]
                    )
                    out.append("ok")
                except openai.InternalServerError:
                    out.append("500")
            return out

        return asyncio.run(go())

    first = outcomes()
    assert first == outcomes()
    assert {"ok", "500"} == set(first)


# -- over HTTP -----------------------------------------------------------------------------------


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path, SimulatorSettings]]:
    """`serve-sim` as a separate process on a free port; waits on a FIFO ready file."""
    settings = SimulatorSettings(latency=0.0, seed=7, rate_reset=0.3, rate_hang=0.3)
    ready, log = tmp_path / "ready", tmp_path / "requests.jsonl"
    os.mkfifo(ready)
    # O_RDWR never blocks on a FIFO, so select() can wait for the port with a deadline.
    fd = os.open(ready, os.O_RDWR | os.O_NONBLOCK)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SERVE_SIM,
            "--port",
            "0",
            "--latency",
            "0",
            "--seed",
            "7",
            "--rate-reset",
            "0.3",
            "--rate-hang",
            "0.3",
            "--ready-file",
            str(ready),
            "--log-requests",
            str(log),
        ]
    )
    try:
        readable, _, _ = select.select([fd], [], [], 60)
        assert readable, "serve-sim did not become ready"
        port = json.loads(os.read(fd, 4096))["port"]
        yield f"http://127.0.0.1:{port}", log, settings
    finally:
        os.close(fd)
        proc.terminate()
        proc.wait(timeout=30)


# The command alone, so this test does not depend on the rest of the CLI being registered.
SERVE_SIM = "import typer; from sdgflow.cli.serve_sim import serve_sim; typer.run(serve_sim)"


def _body_with(settings: SimulatorSettings, outcome: Outcome) -> dict[str, Any]:
    """A request whose first attempt the seeded plan gives `outcome`."""
    for seed in range(1000):
        body = {
            "model": "sim-model",
            "messages": [{"role": "user", "content": "hello"}],
            "seed": seed,
        }
        if plan_faults(settings, fingerprint(body), 0).outcome is outcome:
            return body
    raise AssertionError(outcome)


def test_http_server_serves_faults_stats_and_request_log(
    http_server: tuple[str, Path, SimulatorSettings],
) -> None:
    url, log, settings = http_server
    ok, reset, hang = (_body_with(settings, o) for o in (Outcome.OK, Outcome.RESET, Outcome.HANG))

    async def go() -> dict[str, Any]:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        for _ in range(2):
            r = await client.chat.completions.create(**ok)
            assert r.choices[0].message.content
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(**reset)
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(**hang, timeout=0.3)
        async with httpx2.AsyncClient(base_url=url) as raw:
            return (await raw.get("/sim/stats")).json()

    stats = asyncio.run(go())
    assert stats["requests"] == 4 and stats["completed"] == 2
    assert stats["repeated_completed"] == 1 and stats["fingerprints_completed"] == 1
    assert stats["by_status"]["reset"] == 1
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    completed = [x for x in lines if x["status"] == "200"]
    assert len(completed) == 2 and completed[0]["fingerprint"] == fingerprint(ok)


def test_served_connections_have_tcp_nodelay() -> None:
    """Without TCP_NODELAY each keep-alive reply (headers, then body) waits for the client's
    delayed ACK, adding ~40 ms to every simulated request."""
    import asyncio
    import socket

    from sdgflow.simulator.server import bind

    listener = bind("127.0.0.1", 0)
    seen: list[int] = []

    async def main() -> None:
        def accepted(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accepted, sock=listener)
        port = listener.getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await _reader.read()
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    assert seen and seen[0] != 0


# -- per-minute limits ---------------------------------------------------------------------------

def post_chats(app: Any, bodies: list[dict[str, Any]]) -> tuple[list[httpx2.Response], dict]:
    """POST each body in turn to the in-process app; the answers and /sim/stats after."""

    async def go() -> tuple[list[httpx2.Response], dict]:
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://offline"
        ) as raw:
            answers = [await raw.post("/v1/chat/completions", json=body) for body in bodies]
            return answers, (await raw.get("/sim/stats")).json()

    return asyncio.run(go())


def chat_body(content: str = "hi", model: str = "sim-model", **params: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **params}


def frozen_limits(app: Any) -> Any:
    """The app with its limits' clock stopped: no refill between requests, however slow the
    machine, so counts and remaining values are exact (refill has its own test)."""
    sim = app.state.simulator
    sim.limits = PerMinuteLimits(sim.settings.rpm, sim.settings.tpm, clock=lambda: 100.0)
    return app


def test_rpm_refuses_above_the_limit_with_openai_style_429s() -> None:
    # 180 a minute, enforced per second as OpenAI documents (3 a second, one per 1/3 s):
    # six requests in a row get three answers.
    app = frozen_limits(create_app(SimulatorSettings(latency=0.0, rpm=180, tpm=10_000)))
    answers, stats = post_chats(app, [chat_body(f"q{i}", max_tokens=100) for i in range(6)])
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429, 429]
    assert stats["by_status"] == {"200": 3, "429": 3}
    assert stats["rate_limited"] == {"requests": 3}
    for answer in answers:
        assert set(RATELIMIT_HEADERS) <= set(answer.headers), answer.headers
        assert answer.headers["x-ratelimit-limit-requests"] == "180"
        assert answer.headers["x-ratelimit-limit-tokens"] == "10000"
        for kind in ("requests", "tokens"):
            reset = parse_duration(answer.headers[f"x-ratelimit-reset-{kind}"])
            assert reset is not None and 0 < reset <= 60
    assert [a.headers["x-ratelimit-remaining-requests"] for a in answers] == [
        "2", "1", "0", "0", "0", "0"
    ]
    # Each admitted request takes prompt tokens ("qN": 2 chars, 0 tokens) plus max_tokens.
    assert [a.headers["x-ratelimit-remaining-tokens"] for a in answers[:3]] == [
        "9900", "9800", "9700"
    ]
    refused = answers[3]
    error = refused.json()["error"]
    assert error["type"] == "requests" and error["code"] == "rate_limit_exceeded"
    assert "on requests per min (RPM): Limit 180, Used 3, Requested 1." in error["message"]
    assert "Please try again in " in error["message"]
    wait_ms = int(refused.headers["retry-after-ms"])
    assert 0 < wait_ms <= 20_000
    assert int(refused.headers["retry-after"]) == math.ceil(wait_ms / 1000)
    # The openai client sees a RateLimitError it can read the limit from.
    with pytest.raises(openai.RateLimitError) as err:
        asyncio.run(client_for(app).chat.completions.create(**chat_body("again")))
    assert err.value.code == "rate_limit_exceeded"


def test_tpm_counts_prompt_and_max_tokens_per_model() -> None:
    app = frozen_limits(create_app(SimulatorSettings(latency=0.0, tpm=1000)))
    prompt = "x" * 400  # 100 tokens at 4 characters a token
    answers, stats = post_chats(
        app,
        [
            chat_body(prompt, max_tokens=300),  # 400 of 1000
            chat_body(prompt, max_tokens=300, seed=1),  # 800
            chat_body(prompt, max_tokens=300, seed=2),  # would be 1200: refused
            chat_body(prompt, model="openai/gpt-oss-20b", max_tokens=300),  # its own bucket
            chat_body(prompt, max_tokens=5000),  # larger than the whole limit
        ],
    )
    assert [a.status_code for a in answers] == [200, 200, 429, 200, 429]
    assert [a.headers["x-ratelimit-remaining-tokens"] for a in answers[:2]] == ["600", "200"]
    assert "x-ratelimit-limit-requests" not in answers[0].headers  # no RPM set, none announced
    assert answers[3].headers["x-ratelimit-remaining-tokens"] == "600"
    limited = answers[2].json()["error"]
    assert limited["type"] == "tokens"
    assert "on tokens per min (TPM): Limit 1000, Used 800, Requested 400." in limited["message"]
    assert "retry-after" in answers[2].headers
    too_large = answers[4].json()["error"]
    assert too_large["type"] == "tokens" and too_large["message"].startswith("Request too large")
    assert "retry-after" not in answers[4].headers  # no wait would help
    assert stats["rate_limited"] == {"tokens": 2}


def test_no_limits_no_ratelimit_headers() -> None:
    answers, stats = post_chats(create_app(SimulatorSettings(latency=0.0)), [chat_body()])
    assert answers[0].status_code == 200
    assert not [h for h in answers[0].headers if h.startswith("x-ratelimit")]
    assert stats["rate_limited"] == {}


def test_limit_buckets_refill_continuously() -> None:
    now = [100.0]
    # 480 a minute enforced per second: a second's worth (8) at once, then one per 1/8 s.
    limits = PerMinuteLimits(480, None, clock=lambda: now[0])
    admitted = [limits.admit("m", 0).refused_on is None for _ in range(9)]
    assert admitted == [True] * 8 + [False]
    refused = limits.admit("m", 0)
    assert refused.headers["retry-after-ms"] == "125"
    assert refused.headers["x-ratelimit-reset-requests"] == "1s"
    now[0] += 0.0625
    assert limits.admit("m", 0).refused_on == "requests"
    now[0] += 0.0625
    admitted_now = limits.admit("m", 0)
    assert admitted_now.refused_on is None
    assert admitted_now.headers["x-ratelimit-remaining-requests"] == "0"
    now[0] += 0.5
    half = limits.admit("m", 0).headers
    assert half["x-ratelimit-remaining-requests"] == "3"
    assert half["x-ratelimit-reset-requests"] == "625ms"
    assert limits.admit("other", 0).headers["x-ratelimit-remaining-requests"] == "7"


def test_token_limits_keep_a_minute_so_one_large_request_fits() -> None:
    now = [100.0]
    limits = PerMinuteLimits(None, 6000, clock=lambda: now[0])
    assert limits.admit("m", 5000).refused_on is None
    assert limits.admit("m", 1000).refused_on is None
    assert limits.admit("m", 1).refused_on == "tokens"


def test_serve_sim_options_reach_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from sdgflow.simulator import server

    seen: list[SimulatorSettings] = []
    monkeypatch.setattr(server, "serve", lambda settings, **_: seen.append(settings))
    result = CliRunner().invoke(
        _serve_sim_app(),
        ["--rpm", "3000", "--tpm", "90000", "--rate-html", "0.1", "--rate-cut-body", "0.2",
         "--rate-stall", "0.3"],
    )
    assert result.exit_code == 0, result.output
    (settings,) = seen
    assert (settings.rpm, settings.tpm) == (3000, 90000)
    assert (settings.rate_html, settings.rate_cut_body, settings.rate_stall) == (0.1, 0.2, 0.3)
    bad = CliRunner().invoke(_serve_sim_app(), ["--rpm", "0"])
    assert bad.exit_code != 0 and "--rpm" in bad.output


def _serve_sim_app() -> typer.Typer:
    from sdgflow.cli.serve_sim import serve_sim

    one = typer.Typer()
    one.command()(serve_sim)
    return one


# -- misbehaving proxies -------------------------------------------------------------------------


def test_fault_html_is_a_200_error_page() -> None:
    answers, stats = post_chats(
        create_app(SimulatorSettings(latency=0.0, rate_html=1.0, rpm=600)), [chat_body()]
    )
    (page,) = answers
    assert page.status_code == 200
    assert page.headers["x-ratelimit-remaining-requests"] == "9"
    assert page.headers["content-type"].startswith("text/html")
    assert page.content == b"<html><body>502 Bad Gateway</body></html>"
    assert stats["by_status"] == {"html": 1} and stats["completed"] == 0


def test_fault_cut_body_is_a_complete_message_with_truncated_json() -> None:
    settings = SimulatorSettings(latency=0.0, rate_cut_body=1.0)
    answers, stats = post_chats(create_app(settings), [chat_body(seed=s) for s in range(5)])
    whole, _ = post_chats(create_app(SimulatorSettings(latency=0.0)), [chat_body(seed=0)])
    for cut in answers:
        assert cut.status_code == 200 and cut.headers["content-type"] == "application/json"
        assert int(cut.headers["content-length"]) == len(cut.content)
        with pytest.raises(json.JSONDecodeError):
            json.loads(cut.content)
    # The cut is the start of the whole answer (apart from its clock-second "created").
    def unstamped(content: bytes) -> bytes:
        return re.sub(rb'"created":\d+', b'"created":0', content)

    assert unstamped(whole[0].content).startswith(unstamped(answers[0].content))
    assert len(answers[0].content) < len(whole[0].content)
    assert stats["by_status"] == {"cut_body": 5}


def test_fault_stall_sends_headers_then_never_finishes(tmp_path: Path) -> None:
    from sdgflow.simulator.process import SimProcess

    async def read_some(url: str) -> tuple[int, httpx2.Headers, bytes]:
        async with (
            httpx2.AsyncClient(base_url=url, timeout=5) as raw,
            raw.stream("POST", "/v1/chat/completions", json=chat_body()) as answer,
        ):
            received = b""
            async for chunk in answer.aiter_raw():
                received += chunk
                if len(received) >= 3:  # three keep-alive spaces, and still no answer
                    break
            return answer.status_code, answer.headers, received

    with SimProcess(tmp_path, "--latency", "0", "--rate-stall", "1", "--hang-seconds", "30",
                    "--rpm", "100") as sim:
        status, headers, received = asyncio.run(read_some(sim.url))
        assert (status, headers["content-type"]) == (200, "application/json")
        assert headers["x-ratelimit-limit-requests"] == "100"
        assert received.strip() == b"" and len(received) >= 3
        stats = wait_for_stats(sim, lambda s: s["by_status"].get("stall") == 1)
    assert stats["completed"] == 0


def wait_for_stats(sim: Any, condition: Any, timeout: float = 30.0) -> dict[str, Any]:
    """Poll /sim/stats until `condition` holds (the server counts a stall once the client left)."""
    deadline = time.monotonic() + timeout
    while not condition(stats := sim.stats()):
        assert time.monotonic() < deadline, stats
        time.sleep(0.05)
    return stats
