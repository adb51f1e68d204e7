"""Turns a generated reply into the assistant message text, applying the planned content faults.

The faults mimic what real endpoints send back: fenced or malformed JSON, escaped arguments,
truncation at the token limit, and reasoning in one of the three places models put it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from sdgflow.simulator.conversations import Reply
from sdgflow.simulator.faults import FaultPlan

# Roughly 4 characters per token, like the usage estimate.
CHARS_PER_TOKEN = 4

_PREAMBLES = (
    "Here is the conversation you asked for:",
    "Sure! Here's the JSON object.",
    "Below is the generated support chat.",
)
_KEY_RE = re.compile(r'"(\w+)":')


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """The assistant message fields and finish_reason of one answer."""

    content: str | None
    reasoning_content: str | None
    reasoning: str | None
    finish_reason: str

    def text_length(self) -> int:
        return len(self.content or "") + len(self.reasoning_content or self.reasoning or "")


def _escape_payloads(conversation: dict[str, Any]) -> dict[str, Any]:
    """Arguments and tool content as JSON strings: the wire format the prompt forbids."""
    messages = []
    for message in conversation["messages"]:
        if message.get("tool_calls"):
            calls = [
                {
                    **call,
                    "function": {
                        **call["function"],
                        "arguments": orjson.dumps(call["function"]["arguments"]).decode(),
                    },
                }
                for call in message["tool_calls"]
            ]
            message = {**message, "tool_calls": calls}
        elif message.get("role") == "tool" and not isinstance(message.get("content"), str):
            message = {**message, "content": orjson.dumps(message["content"]).decode()}
        messages.append(message)
    return {**conversation, "messages": messages}


def _malform(text: str, variant: float) -> str:
    if variant < 0.5:
        # Trailing comma after the last top-level member: `...],}`.
        end = text.rfind("}")
        return text[:end].rstrip() + ",\n" + text[end:]
    # Python-dict style single-quoted keys.
    return _KEY_RE.sub(r"'\1':", text)


def render(reply: Reply, plan: FaultPlan, max_tokens: int | None) -> RenderedMessage:
    """Serialize `reply` and apply the content faults of `plan`."""
    if reply.conversation is not None:
        conversation = (
            _escape_payloads(reply.conversation) if plan.escaped_args else (reply.conversation)
        )
        text = orjson.dumps(conversation, option=orjson.OPT_INDENT_2).decode()
        if plan.malformed:
            text = _malform(text, plan.variant)
        fence = "```json"
    else:
        text = reply.text or ""
        fence = "```"
    if plan.fenced:
        preamble = _PREAMBLES[int(plan.variant * len(_PREAMBLES)) % len(_PREAMBLES)]
        text = f"{preamble}\n{fence}\n{text}\n```"

    finish_reason = "stop"
    if plan.truncate:
        # Cut strictly inside the text (30%..90%), so a JSON object always loses its closing `}`.
        text = text[: max(1, int(len(text) * (0.3 + 0.6 * plan.cut)))]
        finish_reason = "length"
    if max_tokens is not None and len(text) > max_tokens * CHARS_PER_TOKEN:
        text = text[: max_tokens * CHARS_PER_TOKEN]
        finish_reason = "length"

    # Rotate where reasoning goes: reasoning_content, reasoning, or inline <think>.
    style = int(plan.variant * 6) % 3
    if plan.reasoning_only:
        empty: str | None = "" if plan.cut < 0.5 else None
        return RenderedMessage(
            content=empty,
            reasoning_content=reply.reasoning if style != 1 else None,
            reasoning=reply.reasoning if style == 1 else None,
            finish_reason="length" if empty is None else "stop",
        )
    if not plan.reasoning:
        return RenderedMessage(text, None, None, finish_reason)
    if style == 0:
        return RenderedMessage(text, reply.reasoning, None, finish_reason)
    if style == 1:
        return RenderedMessage(text, None, reply.reasoning, finish_reason)
    return RenderedMessage(f"<think>{reply.reasoning}</think>\n{text}", None, None, finish_reason)
