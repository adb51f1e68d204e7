"""Durations in the `x-ratelimit-reset-*` headers, written and read the way hosted APIs send them.

OpenAI-style endpoints give the time until a limit is back to full as a Go `time.Duration`
string: `1s`, `6m0s`, `20ms`, `1m30.5s`. The simulator writes them with `format_duration` and
the client reads them with `parse_duration`; stdlib only, so both sides import it cheaply.
"""

from __future__ import annotations

import re

RATELIMIT_HEADERS = (
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
)

_NS_PER = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign, what Go writes
    "\u03bcs": 1_000,  # Greek small mu, which Go also accepts
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
# "ms" before "m": the longest unit must win at each position.
_UNIT = "|".join(sorted(map(re.escape, _NS_PER), key=len, reverse=True))
_PART = re.compile(rf"(\d+(?:\.\d*)?|\.\d+)({_UNIT})")
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")


def _fraction(value: int, digits: int) -> str:
    """`value` / 10**digits as Go prints it: integer part, then a fraction without trailing 0s."""
    whole, frac = divmod(value, 10**digits)
    text = f"{frac:0{digits}d}".rstrip("0")
    return f"{whole}.{text}" if text else str(whole)


def format_duration(seconds: float) -> str:
    """Go's `time.Duration.String()` of `seconds` (negative clamps to `0s`).

    Under a second the largest whole unit is used (`20ms`, `500µs`, `1.5ms`, `300ns`); from a
    second up, hours and minutes lead and seconds keep their fraction (`1m30.5s`, `1h0m0s`).
    """
    ns = max(0, round(seconds * 1_000_000_000))
    if ns == 0:
        return "0s"
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return f"{_fraction(ns, 3)}\u00b5s"
    if ns < 1_000_000_000:
        return f"{_fraction(ns, 6)}ms"
    hours, rest = divmod(ns, _NS_PER["h"])
    minutes, rest = divmod(rest, _NS_PER["m"])
    text = f"{_fraction(rest, 9)}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return text


def parse_duration(text: str) -> float | None:
    """Seconds in a Go duration string (`6m0s`, `20ms`, `1h2m3s`, `500us`); None if it is not one.

    A bare number is read as seconds: some OpenAI-compatible servers send the reset that way.
    Negative durations are None too: a reset cannot lie in the past.
    """
    text = text.strip()
    if not text:
        return None
    if _NUMBER.fullmatch(text):
        return float(text)
    total, end = 0.0, 0
    for part in _PART.finditer(text):
        if part.start() != end:
            return None
        total += float(part.group(1)) * _NS_PER[part.group(2)]
        end = part.end()
    if end != len(text):
        return None
    return total / 1_000_000_000
