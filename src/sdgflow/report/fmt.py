"""Number formatting for people: counts, shares, durations, money."""

from __future__ import annotations


def count(n: float | int | None) -> str:
    return "—" if n is None else f"{int(n):,}"


def compact(n: float | int | None) -> str:
    """12,345,678 -> 12.3M: KPI tiles have room for a few characters only."""
    if n is None:
        return "—"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.1f}".removesuffix(".0") + suffix
    return f"{int(n)}"


def pct(part: float, whole: float, digits: int = 1) -> str:
    return "—" if not whole else f"{100 * part / whole:.{digits}f}%"


def share(fraction: float | None, digits: int = 1) -> str:
    return "—" if fraction is None else f"{100 * fraction:.{digits}f}%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def money(usd: float | None) -> str:
    if usd is None:
        return "—"
    if usd == 0:
        return "$0"
    return f"${usd:,.4f}" if usd < 1 else f"${usd:,.2f}"
