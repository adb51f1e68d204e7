"""Knobs of the offline simulator: service model (latency, slots) and fault probabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from sdgflow.simulator.knobs import DEFAULT_MODELS

# Every fault knob is a probability in [0, 1]; 1.0 makes the fault happen on every request.
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


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
    # Misbehaving proxies and load balancers in front of the model (issue 14, item 5).
    rate_html: Probability = 0.0
    rate_cut_body: Probability = 0.0
    rate_stall: Probability = 0.0
    rate_extra_turns: Probability = Field(
        0.3, description="chance of one more user/assistant exchange after the grounded answer"
    )

    # Batch API (/v1/files, /v1/batches; simulator/batches.py).
    batch_api: bool = Field(True, description="serve the Batch API; False answers 404 there")
    batch_seconds: float = Field(
        0.0, ge=0.0, description="seconds from a batch's creation until it completes"
    )
    batch_expire_seconds: float | None = Field(
        None, ge=0.0, description="a batch not complete this many seconds after creation "
        "expires, keeping the lines done by then"
    )
    rate_batch_error: Probability = Field(
        0.0, description="chance that a batch line fails (500 in the batch's error file)"
    )

    # Per-minute limits per model, enforced like a hosted API (simulator/limits.py).
    rpm: int | None = Field(None, ge=1, description="requests per minute per model; 429 above")
    tpm: int | None = Field(
        None, ge=1, description="tokens (prompt + max_tokens) per minute per model; 429 above"
    )

    log_requests: Path | None = Field(
        None, description="append one JSON line per answered chat request (fingerprint, status)"
    )
