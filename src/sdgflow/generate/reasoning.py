"""Separate a reply's reasoning from its answer: reasoning never leaks into the text."""

from __future__ import annotations

import re
from typing import Any

_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)


def split_reasoning(message: Any) -> tuple[str, str | None]:
    """(answer text, reasoning) from an openai ChatCompletionMessage."""
    text = message.content or ""
    extra = getattr(message, "model_extra", None) or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning") or \
        getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
    match = _THINK.match(text)
    if match:
        inline = match.group(1).strip()
        reasoning = f"{reasoning}\n{inline}" if reasoning else inline
        text = text[match.end():]
    return text, (reasoning or None)
