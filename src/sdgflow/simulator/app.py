"""The simulator as an ASGI app: an OpenAI-compatible chat endpoint with slots, latency and faults.

In-process use (the `offline` provider), verified with openai 3.x on httpx2::

    import httpx2
    from openai import AsyncOpenAI
    from sdgflow.simulator import SimulatorSettings, create_app

    app = create_app(SimulatorSettings(latency=0.0))
    client = AsyncOpenAI(
        base_url="http://offline/v1",
        api_key="x",
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)),
    )
    # app.state.simulator.stats holds the counters that GET /sim/stats reports.

Keep `ASGITransport`'s default `raise_app_exceptions=True`: the `reset` fault raises
`SimulatedConnectionReset` (an `httpx2.ReadError`) through the transport, which openai reports as
`APIConnectionError`. `ASGITransport` enforces no timeouts, so a `hang` fault reads the
`x-stainless-read-timeout` header openai sends and raises `SimulatedReadTimeout` (an
`httpx2.ReadTimeout`, hence `APITimeoutError`) once that much time has passed. Over HTTP the
client times out and disconnects first, which ends the hang quietly. A `stall` (headers, then a
trickle that never ends) needs a deadline on the whole request on the client's side; in-process
that deadline cancels the app with the request.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import Any

import httpx2
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from sdgflow.simulator.conversations import generate_reply
from sdgflow.simulator.faults import FaultPlan, Outcome, plan_faults
from sdgflow.simulator.limits import PerMinuteLimits
from sdgflow.simulator.render import CHARS_PER_TOKEN, render
from sdgflow.simulator.settings import SimulatorSettings
from sdgflow.simulator.stats import RequestLog, SimStats

# The request fields that identify one paid call (the same set the response store keys on).
FINGERPRINT_FIELDS = (
    "model",
    "messages",
    "seed",
    "temperature",
    "top_p",
    "max_tokens",
    "response_format",
)
# Over HTTP the client's own read timeout fires first; this margin keeps the server from
# answering a hung request with an error just before the client gives up.
HANG_TIMEOUT_GRACE = 0.25
# The `html` fault: what nginx and most load balancers put in front of a failed upstream.
HTML_ERROR_PAGE = b"<html><body>502 Bad Gateway</body></html>"
# The `stall` fault sends one space this often: well under any read timeout, so only a deadline
# on the whole request ends it.
STALL_TRICKLE_SECONDS = 0.1


class SimulatedConnectionReset(httpx2.ReadError):
    """The `reset` fault: the connection drops mid-response."""


class SimulatedReadTimeout(httpx2.ReadTimeout):
    """The `hang` fault in-process, where no transport enforces the client's read timeout."""


def fingerprint(body: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the fields that make two requests the same paid call."""
    key = {name: body.get(name) for name in FINGERPRINT_FIELDS}
    if key["max_tokens"] is None:
        key["max_tokens"] = body.get("max_completion_tokens")
    return hashlib.sha256(orjson.dumps(key, option=orjson.OPT_SORT_KEYS)).hexdigest()


def prompt_text(messages: list[Any]) -> str:
    """All message texts joined; content given as parts contributes its text parts."""
    parts: list[str] = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(parts)


def requested_max_tokens(body: dict[str, Any]) -> int | None:
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
    return max_tokens if isinstance(max_tokens, int) else None


def estimated_tokens(body: dict[str, Any]) -> int:
    """What a per-minute token limit charges before answering: the prompt's size plus the
    whole `max_tokens` (none asked: nothing reserved for the answer)."""
    prompt = len(prompt_text(body["messages"])) // CHARS_PER_TOKEN
    return prompt + (requested_max_tokens(body) or 0)


def _error_body(message: str, kind: str, code: str | None, param: str | None = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": kind, "param": param, "code": code}})


class _CountedResponse(Response):
    """A JSON response that reports itself to the stats once its body has been sent."""

    media_type = "application/json"

    def __init__(
        self,
        body: bytes,
        status_code: int,
        on_sent: Callable[[], None],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(body, status_code=status_code, headers=headers)
        self._on_sent = on_sent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)
        self._on_sent()


class _ResetResponse(Response):
    """Starts a 200 answer, sends part of it, then drops the connection.

    Raising after the response started makes uvicorn close the socket (the client sees the
    peer close mid-body) and makes ASGITransport re-raise the error to the in-process client.
    """

    media_type = "application/json"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send(
            {
                "type": "http.response.body",
                "body": self.body[: len(self.body) // 2],
                "more_body": True,
            }
        )
        raise SimulatedConnectionReset("simulated connection reset by peer")


class _StallResponse(Response):
    """Sends a 200's headers, then a space every STALL_TRICKLE_SECONDS, never the answer.

    Like a gateway that keeps a slow upstream's connection alive with whitespace before the JSON
    (valid JSON lets it) and whose upstream then never answers: every read gets a byte, so a
    per-read timeout never fires. It ends when the client leaves (or, in-process, cancels) or
    after `hang_seconds`, when the connection drops.
    """

    media_type = "application/json"

    def __init__(self, hang_seconds: float, on_end: Callable[[], None],
                 headers: dict[str, str]) -> None:
        super().__init__(None, status_code=200, headers=headers)
        self._hang_seconds, self._on_end = hang_seconds, on_end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # No Content-Length: the body goes out chunked, with no end the client could count to.
        headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._hang_seconds
        try:
            while loop.time() < give_up:
                try:
                    await asyncio.wait_for(_disconnected(receive), STALL_TRICKLE_SECONDS)
                    return  # the client gave up
                except TimeoutError:
                    await send({"type": "http.response.body", "body": b" ", "more_body": True})
        finally:
            self._on_end()
        raise SimulatedConnectionReset("simulated stall: hang_seconds passed, connection dropped")


class Simulator:
    """One simulated endpoint: its settings, its slots and its counters."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self.stats = SimStats()
        self.models = frozenset(settings.models)
        self.log = RequestLog(settings.log_requests) if settings.log_requests else None
        self.limits = (
            PerMinuteLimits(settings.rpm, settings.tpm)
            if settings.rpm is not None or settings.tpm is not None
            else None
        )
        self._auth = f"Bearer {settings.api_key}" if settings.api_key is not None else None
        # Created per event loop: asyncio primitives bind to the loop that first waits on them,
        # and one app may serve several loops in tests (one asyncio.run each).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None

    def slots(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            self._loop, self._slots = loop, asyncio.Semaphore(self.settings.slots)
        return self._slots

    def reset(self) -> None:
        self.stats.reset()

    # -- responses ------------------------------------------------------------------------------

    def _respond(
        self,
        body: bytes,
        status: int,
        fp: str | None = None,
        attempt: int = 0,
        headers: dict[str, str] | None = None,
        label: str | None = None,
    ) -> Response:
        """`label` counts the answer under another name than its status (a 200 that is no
        answer: html, cut_body)."""
        label = label or str(status)

        def on_sent() -> None:
            self.stats.answered(label, fp)
            if self.log is not None and fp is not None:
                self.log.write(fp, label, attempt, self.stats.now())

        return _CountedResponse(body, status, on_sent, headers)

    def _ended(self, label: str, fp: str, attempt: int) -> None:
        """A request that ended without a full response (reset, hang)."""
        self.stats.answered(label, fp)
        if self.log is not None:
            self.log.write(fp, label, attempt, self.stats.now())

    # -- endpoints ------------------------------------------------------------------------------

    def _unauthorized(self, request: Request, counted: bool = True) -> Response | None:
        """401 for a wrong bearer token; `counted` is False where stats track only chat calls."""
        if self._auth is None or request.headers.get("authorization") == self._auth:
            return None
        body = _error_body(
            "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
        )
        if not counted:
            return Response(body, status_code=401, media_type="application/json")
        return self._respond(body, 401)

    async def chat(self, request: Request) -> Response:
        stats = self.stats
        stats.received()
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return self._respond(
                _error_body("Request body is not valid JSON.", "invalid_request_error", None), 400
            )
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self._respond(
                _error_body("'messages' is required.", "invalid_request_error", None, "messages"),
                400,
            )
        model = body.get("model")
        if model not in self.models:
            return self._respond(
                _error_body(
                    f"The model `{model}` does not exist or you do not have access to it.",
                    "invalid_request_error",
                    "model_not_found",
                    "model",
                ),
                404,
            )

        fp = fingerprint(body)
        attempt = stats.next_attempt(fp)
        # The x-ratelimit-* headers every answer from here on carries (none without limits).
        limit_headers: dict[str, str] = {}
        if self.limits is not None:
            admission = self.limits.admit(model, estimated_tokens(body))
            limit_headers = admission.headers
            if admission.refused_on is not None:
                stats.rate_limited[admission.refused_on] += 1
                return self._respond(
                    _error_body(admission.message, admission.refused_on, "rate_limit_exceeded"),
                    429,
                    fp,
                    attempt,
                    limit_headers,
                )
        plan = plan_faults(self.settings, fp, attempt)
        if plan.outcome is Outcome.RATE_LIMITED:
            # Rejected at the door, like a gateway's rate limiter: no slot is used.
            retry_after = self.settings.retry_after
            return self._respond(
                _error_body(
                    "Rate limit reached for requests. Please try again later.",
                    "requests",
                    "rate_limit_exceeded",
                ),
                429,
                fp,
                attempt,
                {**limit_headers, "retry-after": f"{retry_after:g}"},
            )

        slots = self.slots()
        waiting = slots.locked()
        if waiting:
            stats.queued += 1
            stats.queued_max = max(stats.queued_max, stats.queued)
        try:
            await slots.acquire()
        finally:
            if waiting:
                stats.queued -= 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        began = time.monotonic()
        try:
            if plan.outcome is Outcome.HANG:
                if await self._hang(request, fp, attempt):
                    return Response(status_code=499)  # the client is gone; nobody reads this
            else:
                await asyncio.sleep(self._latency(plan))
        finally:
            stats.in_flight -= 1
            stats.busy_slot_seconds += time.monotonic() - began
            slots.release()

        if plan.outcome is Outcome.SERVER_ERROR:
            return self._respond(
                _error_body(
                    "The server had an error while processing your request.", "server_error", None
                ),
                500,
                fp,
                attempt,
                limit_headers,
            )
        if plan.outcome is Outcome.HTML:
            html = {**limit_headers, "content-type": "text/html; charset=utf-8"}
            return self._respond(HTML_ERROR_PAGE, 200, fp, attempt, html, label="html")
        if plan.outcome is Outcome.STALL:
            return _StallResponse(
                self.settings.hang_seconds,
                lambda: self._ended("stall", fp, attempt),
                limit_headers,
            )
        payload = self._completion(body, model, fp, attempt, plan)
        if plan.outcome is Outcome.RESET:
            self._ended("reset", fp, attempt)
            return _ResetResponse(payload, headers=limit_headers)
        if plan.outcome is Outcome.CUT_BODY:
            # A body cut short with a Content-Length that promises more is `reset` (the client
            # sees the connection close mid-body). This is the cut that reaches the JSON parser:
            # an upstream that ends its body by closing the connection (no Content-Length, not
            # chunked) and dies mid-body looks finished to the proxy, which forwards it as a
            # complete answer, with a Content-Length of its own or as an ended HTTP/2 stream.
            cut = payload[: max(1, int(len(payload) * (0.3 + 0.6 * plan.cut)))]
            return self._respond(cut, 200, fp, attempt, limit_headers, label="cut_body")
        return self._respond(payload, 200, fp, attempt, limit_headers)

    def _latency(self, plan: FaultPlan) -> float:
        jitter = self.settings.latency_jitter
        return self.settings.latency * (1.0 + jitter * (2.0 * plan.jitter - 1.0))

    async def _hang(self, request: Request, fp: str, attempt: int) -> bool:
        """Stall; True when the client went away, False when hang_seconds passed first."""
        limit = self.settings.hang_seconds
        header = request.headers.get("x-stainless-read-timeout")
        try:
            read_timeout: float | None = float(header) if header else None
        except ValueError:
            read_timeout = None
        times_out = read_timeout is not None and read_timeout + HANG_TIMEOUT_GRACE < limit
        try:
            await asyncio.wait_for(
                _disconnected(request.receive),
                read_timeout + HANG_TIMEOUT_GRACE if times_out else limit,
            )  # type: ignore[operator]
        except asyncio.CancelledError:
            # In-process, a client's own deadline cancels the request (and this app) outright.
            self._ended("hang", fp, attempt)
            raise
        except TimeoutError:
            if times_out:
                # Still connected past the client's read timeout: only an in-process client
                # (ASGITransport never times out) gets here, so play its timeout for it.
                self._ended("hang", fp, attempt)
                raise SimulatedReadTimeout("simulated read timeout (hung request)") from None
            return False
        self._ended("hang", fp, attempt)
        return True

    def _completion(
        self, body: dict[str, Any], model: str, fp: str, attempt: int, plan: FaultPlan
    ) -> bytes:
        messages = body["messages"]
        prompt = prompt_text(messages)
        seed = body.get("seed")
        reply = generate_reply(
            prompt,
            request_seed=seed if isinstance(seed, int) else None,
            settings_seed=self.settings.seed,
            extra_turns_rate=self.settings.rate_extra_turns,
        )
        rendered = render(reply, plan, requested_max_tokens(body))
        message: dict[str, Any] = {"role": "assistant", "content": rendered.content}
        if rendered.reasoning_content is not None:
            message["reasoning_content"] = rendered.reasoning_content
        if rendered.reasoning is not None:
            message["reasoning"] = rendered.reasoning
        prompt_tokens = len(prompt) // CHARS_PER_TOKEN
        completion_tokens = rendered.text_length() // CHARS_PER_TOKEN
        choices = (
            []
            if plan.outcome is Outcome.EMPTY_CHOICES
            else [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": rendered.finish_reason,
                    "logprobs": None,
                }
            ]
        )
        return orjson.dumps(
            {
                "id": f"chatcmpl-sim-{fp[:16]}-{attempt}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "sdgflow-sim",
                "choices": choices,
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )

    async def list_models(self, request: Request) -> Response:
        # A health check is free: it is not a chat request, so the stats ignore it.
        denied = self._unauthorized(request, counted=False)
        if denied is not None:
            return denied
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "sdgflow-sim"}
            for m in self.settings.models
        ]
        return Response(
            orjson.dumps({"object": "list", "data": data}), media_type="application/json"
        )

    async def get_stats(self, request: Request) -> Response:
        return Response(orjson.dumps(self.stats.snapshot()), media_type="application/json")

    async def post_reset(self, request: Request) -> Response:
        self.reset()
        return Response(orjson.dumps({"reset": True}), media_type="application/json")


async def _disconnected(receive: Receive) -> None:
    """Returns once the client disconnects (never, in-process: ASGITransport cannot tell)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def create_app(settings: SimulatorSettings | None = None) -> Starlette:
    """The simulator app; `app.state.simulator` is its `Simulator` (settings, stats)."""
    from sdgflow.simulator.batches import batch_routes  # (it imports this module)

    sim = Simulator(settings or SimulatorSettings())
    app = Starlette(
        routes=[
            *batch_routes(sim),
            Route("/v1/chat/completions", sim.chat, methods=["POST"]),
            Route("/v1/models", sim.list_models, methods=["GET"]),
            Route("/sim/stats", sim.get_stats, methods=["GET"]),
            Route("/sim/reset", sim.post_reset, methods=["POST"]),
        ]
    )
    app.state.simulator = sim
    return app


__all__ = [
    "SimulatedConnectionReset",
    "SimulatedReadTimeout",
    "Simulator",
    "create_app",
    "fingerprint",
]
