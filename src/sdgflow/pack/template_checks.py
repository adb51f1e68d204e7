"""What a chat template does to tool-calling rows that a trainer would not want.

A small probe conversation (a tool, a call, its result, an answer) is rendered with the
chosen template and the render is read back: no knowledge of the template's layout needed.
"""

from __future__ import annotations

import json

from sdgflow.pack.render import Renderer
from sdgflow.pack.render.jinja import JinjaRenderer, template_messages

_DESCRIPTION = "sdgflow probe: look up a parcel"
_ARGS = {"parcel_id": "PX-417"}
_TOOLS = ("track_parcel", "notify_customer")
_QUESTION = "Where is my parcel? Please notify me too."


def probe_row(arguments_format: str, calls: int = 1) -> dict:
    """A tool-calling conversation with `calls` parallel calls in its tool-call turn."""
    args = _ARGS if arguments_format == "object" else json.dumps(_ARGS)
    row = {
        "messages": [
            {"role": "user", "content": _QUESTION},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "track_parcel", "arguments": args}},
                {"id": "call_2", "type": "function",
                 "function": {"name": "notify_customer", "arguments": args}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "in transit"}'},
            {"role": "tool", "tool_call_id": "call_2", "content": '{"sent": true}'},
            {"role": "assistant", "content": "It is in transit."},
        ],
        "tools": [{"type": "function", "function": {
            "name": name, "description": _DESCRIPTION,
            "parameters": {"type": "object", "properties": {"parcel_id": {"type": "string"}},
                           "required": ["parcel_id"]}}} for name in _TOOLS],
    }
    if calls == 1:
        del row["messages"][1]["tool_calls"][1], row["messages"][3]
    return row


def arguments_format_of(lines: list[bytes]) -> str:
    """`object` when the first tool call found in `lines` has object arguments, else `string`."""
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        for m in rec.get("messages") or [] if isinstance(rec, dict) else []:
            for tc in (m.get("tool_calls") or []) if isinstance(m, dict) else []:
                f = tc.get("function") if isinstance(tc, dict) else None
                if isinstance(f, dict) and "arguments" in f:
                    return "object" if isinstance(f["arguments"], dict) else "string"
    return "string"


def _render(renderer: JinjaRenderer, rec: dict) -> str:
    return renderer.render_text(template_messages(rec["messages"]), rec["tools"], False)


def template_warnings(renderer: Renderer, arguments_format: str = "string") -> list[str]:
    if not isinstance(renderer, JinjaRenderer):
        return []  # code renderers write tools and arguments as their owner's library does
    label = renderer.label
    try:
        text = _render(renderer, probe_row(arguments_format))
    except Exception as e:
        return [f"template {label} fails on a tool-calling conversation "
                f"({type(e).__name__}: {e}); rows with tool calls will be reported as problems"]
    out = []
    if _DESCRIPTION not in text:
        out.append(f"template {label} does not write the `tools` list into the prompt: "
                   "the model trains on calls to tools it was never shown; use a template that "
                   "renders `tools` (e.g. the model's own)")
    if arguments_format == "string" and '\\"parcel_id\\"' in text:
        out.append(f"template {label} JSON-encodes string `arguments` a second time "
                   '(it writes "{\\"key\\": ...}"); project with '
                   "`output_projection.arguments_format: object` for this template")
    elif "PX-417" not in text.split(_QUESTION)[-1]:
        other = "string" if arguments_format == "object" else "object"
        out.append(f"template {label} does not write tool-call arguments given as "
                   f"{arguments_format}s; try `output_projection.arguments_format: {other}`")
    try:
        text = _render(renderer, probe_row(arguments_format, calls=2))
    except Exception as e:
        out.append(f"template {label} refuses several tool calls in one assistant turn "
                   f"({type(e).__name__}: {e}): such rows are reported as problems; reject "
                   "them in validation or choose a template that writes them")
    else:
        if _TOOLS[1] not in text.split(_QUESTION)[-1]:
            out.append(f"template {label} writes only the first of several tool calls in one "
                       "assistant turn: such rows train on part of the turn; reject them in "
                       "validation or choose a template that writes them all")
    return out
