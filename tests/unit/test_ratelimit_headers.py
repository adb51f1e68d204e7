"""The Go-style durations of the x-ratelimit-reset-* headers, against Go's own spellings."""

from __future__ import annotations

import pytest

from sdgflow.ratelimit_headers import format_duration, parse_duration

# (seconds, what Go's time.Duration.String() prints for it)
GO_STRINGS = [
    (0.0, "0s"),
    (1.0, "1s"),
    (360.0, "6m0s"),
    (0.02, "20ms"),
    (90.5, "1m30.5s"),
    (3723.0, "1h2m3s"),
    (3600.0, "1h0m0s"),
    (0.0005, "500\u00b5s"),
    (0.0015, "1.5ms"),
    (8.64, "8.64s"),
    (3e-7, "300ns"),
]


@pytest.mark.parametrize(("seconds", "text"), GO_STRINGS)
def test_format_duration_spells_like_go(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), GO_STRINGS)
def test_parse_duration_reads_go_strings(seconds: float, text: str) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500us", 0.0005),
        ("500\u03bcs", 0.0005),  # Greek mu, which Go accepts beside the micro sign
        ("1.5h", 5400.0),
        ("2m59.56s", 179.56),
        ("100ns", 1e-7),
        ("0", 0.0),
        ("7.66", 7.66),  # bare seconds, as some OpenAI-compatible servers send
        (" 1s ", 1.0),
    ],
)
def test_parse_duration_other_spellings(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "   ", "soon", "1x", "s", "1s garbage", "1 s", "-1s", "1s-2s", "1..5s", "m1s"]
)
def test_parse_duration_rejects_garbage(text: str) -> None:
    assert parse_duration(text) is None


def test_negative_format_clamps_to_zero() -> None:
    assert format_duration(-3.0) == "0s"
