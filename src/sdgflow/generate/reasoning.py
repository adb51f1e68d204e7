"""Separate a reply's reasoning from its answer: reasoning never leaks into the text."""

from __future__ import annotations

import re
from typing import Any

_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)


def split_reasoning(message: dict[str, Any]) -> tuple[str, str | None]:
    """(answer text, reasoning) from a chat completion's `message` object."""
    text = message.get("content") or ""
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    match = _THINK.match(text)
    if match:
        inline = match.group(1).strip()
        reasoning = f"{reasoning}\n{inline}" if reasoning else inline
        text = text[match.end():]
    return text, (reasoning or None)
