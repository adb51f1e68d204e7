"""A training row as a chat transcript: role-coloured bubbles, tool calls and tool results as
distinct monospace cards. Every string from the data goes through `html.escape`: generated
text is untrusted (a model can write `<script>`)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

MAX_TEXT = 4000  # a bubble never holds more (a broken row must not make a 1 MB page)


def _a(value: object) -> str:
    return escape(str(value), quote=True)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " …"


def _pretty(value: Any) -> str:
    """JSON (or JSON in a string, as projected arguments and tool contents are) indented."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return _clip(value)
    return _clip(json.dumps(value, ensure_ascii=False, indent=2))


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "\n".join(str(p.get("text", "")) if isinstance(p, dict) else str(p)
                         for p in content)
    return json.dumps(content, ensure_ascii=False)


def render_message(message: Any) -> str:
    if not isinstance(message, dict):
        return f'<div class="bubble invalid">{escape(_clip(repr(message)))}</div>'
    role = str(message.get("role", "?"))
    if role == "tool":
        name = message.get("name") or ""
        return (f'<div class="msg tool" data-role="tool">'
                f'<div class="bubble tool-result" data-tool="{_a(name)}">'
                f'<div class="card-head"><span class="chip tool">tool result</span>'
                f'<code>{escape(str(name))}</code>'
                f'<span class="call-id">{escape(str(message.get("tool_call_id", "")))}</span>'
                f"</div><pre>{escape(_pretty(message.get('content')))}</pre></div></div>")
    parts: list[str] = []
    text = _text(message.get("content"))
    role_class = role if role in ("system", "user", "assistant") else "other"
    if text.strip():
        parts.append(f'<div class="bubble {role_class}"><div class="who">{escape(role)}</div>'
                     f'<div class="text">{escape(_clip(text))}</div></div>')
    for call in message.get("tool_calls") or []:
        fn = call.get("function", {}) if isinstance(call, dict) else {}
        fn = fn if isinstance(fn, dict) else {}
        name = str(fn.get("name", "?"))
        call_id = str(call.get("id", "")) if isinstance(call, dict) else ""
        parts.append(f'<div class="bubble tool-call" data-tool="{_a(name)}">'
                     f'<div class="card-head"><span class="chip call">tool call</span>'
                     f"<code>{escape(name)}</code>"
                     f'<span class="call-id">{escape(call_id)}</span></div>'
                     f"<pre>{escape(_pretty(fn.get('arguments')))}</pre></div>")
    if not parts:
        parts.append(f'<div class="bubble {role_class} empty"><div class="who">{escape(role)}'
                     f'</div><div class="text">(empty)</div></div>')
    return f'<div class="msg {role_class}" data-role="{_a(role)}">{"".join(parts)}</div>'


def render_conversation(row: dict[str, Any], index: int, metadata_fields: list[str]) -> str:
    messages = row.get("messages") if isinstance(row.get("messages"), list) else []
    tools = [t.get("function", {}).get("name", "?") for t in row.get("tools") or []
             if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    called = {c.get("function", {}).get("name") for m in messages if isinstance(m, dict)
              for c in m.get("tool_calls") or [] if isinstance(c, dict)
              and isinstance(c.get("function"), dict)}
    meta = "".join(
        f'<span class="meta"><span class="k">{escape(k)}</span> {escape(str(row[k]))}</span>'
        for k in metadata_fields if row.get(k) is not None)
    tool_chips = "".join(
        f'<span class="chip {"used" if name in called else "offered"}">{escape(str(name))}</span>'
        for name in tools)
    body = "".join(render_message(m) for m in messages)
    return (f'<article class="conversation" data-sample="{index}" '
            f'data-messages="{len(messages)}">'
            f'<header><div class="title">Sample {index + 1}'
            f'<span class="sub">{len(messages)} messages · {len(tools)} tools offered</span>'
            f'</div><div class="metas">{meta}</div>'
            f'<div class="tools">{tool_chips}</div></header>'
            f'<div class="chat">{body}</div></article>')
