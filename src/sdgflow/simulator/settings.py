"""Knobs of the offline simulator: service model (latency, slots) and fault probabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Every fault knob is a probability in [0, 1]; 1.0 makes the fault happen on every request.
Probability = Annotated[float, Field(ge=0.0, le=1.0)]

DEFAULT_MODELS: tuple[str, ...] = ("openai/gpt-oss-20b", "google/gemma-4-31B-it", "sim-model")

# Fault knobs in the order the CLI lists them, with the help text it shows.
FAULT_HELP: dict[str, str] = {
    "rate_429": "answer 429 rate_limit_exceeded with a Retry-After header",
    "rate_500": "answer 500 server_error after the service latency",
    "rate_hang": "never answer (until the client times out or hang_seconds pass)",
    "rate_reset": "drop the connection mid-response (client sees a connection error)",
    "rate_truncate": "cut the text mid-structure with finish_reason=length",
    "rate_fenced": "wrap the JSON in a ```json fence after a one-line preamble",
    "rate_malformed": "emit a trailing comma or single-quoted keys",
    "rate_escaped_args": "send tool arguments and tool content as escaped JSON strings",
    "rate_reasoning": "add reasoning (reasoning_content, reasoning, or inline <think>)",
    "rate_reasoning_only": "send only reasoning: content empty or null",
    "rate_empty_choices": "answer 200 with choices: []",
}


class SimulatorSettings(BaseModel):
    """Everything that shapes the simulator's answers; faults are seeded, hence reproducible."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency: float = Field(0.05, ge=0.0, description="seconds of service time per request")
    latency_jitter: float = Field(
        0.0, ge=0.0, le=1.0, description="latency varies uniformly by +- this fraction"
    )
    slots: int = Field(64, ge=1, description="requests served at once; the rest queue FIFO")
    seed: int = Field(0, description="seeds replies and fault decisions")
    api_key: str | None = Field(None, description="when set, any other bearer token gets 401")
    models: list[str] = Field(default_factory=lambda: list(DEFAULT_MODELS))

    rate_429: Probability = 0.0
    retry_after: float = Field(1.0, ge=0.0, description="seconds sent in Retry-After on 429")
    rate_500: Probability = 0.0
    rate_hang: Probability = 0.0
    hang_seconds: float = Field(3600.0, ge=0.0, description="how long a hung request stalls")
    rate_reset: Probability = 0.0
    rate_truncate: Probability = 0.0
    rate_fenced: Probability = 0.0
    rate_malformed: Probability = 0.0
    rate_escaped_args: Probability = 0.0
    rate_reasoning: Probability = 0.0
    rate_reasoning_only: Probability = 0.0
    rate_empty_choices: Probability = 0.0
    rate_extra_turns: Probability = Field(
        0.3, description="chance of one more user/assistant exchange after the grounded answer"
    )

    log_requests: Path | None = Field(
        None, description="append one JSON line per answered chat request (fingerprint, status)"
    )
