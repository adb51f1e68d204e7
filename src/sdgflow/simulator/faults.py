"""Deterministic fault decisions: which failure (if any) a given request attempt gets.

A decision depends only on (settings.seed, request fingerprint, attempt number), so a test run is
reproducible, while the attempt number lets a retry of the identical request draw again and
succeed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from sdgflow.simulator.settings import SimulatorSettings


class Outcome(StrEnum):
    """What happens at the HTTP level; mutually exclusive, checked in this order."""

    OK = "ok"
    RATE_LIMITED = "429"
    SERVER_ERROR = "500"
    HANG = "hang"
    RESET = "reset"
    EMPTY_CHOICES = "empty_choices"
    # What a proxy or load balancer in front of the model does to a 200 answer.
    HTML = "html"
    CUT_BODY = "cut_body"
    STALL = "stall"


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """The faults one request attempt gets; content faults may combine."""

    outcome: Outcome
    truncate: bool
    fenced: bool
    malformed: bool
    escaped_args: bool
    reasoning: bool
    reasoning_only: bool
    # Uniform draws reused to pick a variant (reasoning style, malformation kind, cut point,
    # latency jitter) without extra hashing.
    variant: float
    cut: float
    jitter: float


# 16 uniform draws per 64-byte digest: 4 bytes each gives 1/2**32 resolution, plenty.
_DRAWS = 16
_SCALE = float(1 << 32)


def _uniforms(seed: int, fingerprint: str, attempt: int, block: int = 0) -> list[float]:
    # Block 0 keeps its original key, so adding draws changed no earlier decision.
    key = f"{seed}|{fingerprint}|{attempt}" + (f"|{block}" if block else "")
    digest = hashlib.blake2b(key.encode(), digest_size=64).digest()
    return [int.from_bytes(digest[i * 4 : i * 4 + 4], "big") / _SCALE for i in range(_DRAWS)]


def plan_faults(settings: SimulatorSettings, fingerprint: str, attempt: int) -> FaultPlan:
    """Decide the faults of attempt `attempt` (0-based) of the request `fingerprint`."""
    u = _uniforms(settings.seed, fingerprint, attempt)
    if settings.rate_html or settings.rate_cut_body or settings.rate_stall:
        u += _uniforms(settings.seed, fingerprint, attempt, block=1)
    else:
        u += [1.0] * _DRAWS  # never below a rate: the second digest is not worth hashing
    # u < rate with u in [0, 1): rate 0 never fires, rate 1 always does.
    outcome = Outcome.OK
    for draw, rate, candidate in (
        (u[0], settings.rate_429, Outcome.RATE_LIMITED),
        (u[1], settings.rate_500, Outcome.SERVER_ERROR),
        (u[2], settings.rate_hang, Outcome.HANG),
        (u[3], settings.rate_reset, Outcome.RESET),
        (u[4], settings.rate_empty_choices, Outcome.EMPTY_CHOICES),
        (u[16], settings.rate_html, Outcome.HTML),
        (u[17], settings.rate_cut_body, Outcome.CUT_BODY),
        (u[18], settings.rate_stall, Outcome.STALL),
    ):
        if draw < rate:
            outcome = candidate
            break
    return FaultPlan(
        outcome=outcome,
        truncate=u[5] < settings.rate_truncate,
        fenced=u[6] < settings.rate_fenced,
        malformed=u[7] < settings.rate_malformed,
        escaped_args=u[8] < settings.rate_escaped_args,
        reasoning=u[9] < settings.rate_reasoning,
        reasoning_only=u[10] < settings.rate_reasoning_only,
        variant=u[11],
        cut=u[12],
        jitter=u[13],
    )
