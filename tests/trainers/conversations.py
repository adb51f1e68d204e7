"""A varied set of tool-calling rows, typed out by hand, for comparing renders with the
trainers' own code: one and several tool calls, tool results as text and as JSON, system
message present or absent, reasoning present or absent, several user turns, unicode."""

from __future__ import annotations

import copy
import json
from typing import Any

LOOKUP = {"type": "function", "function": {
    "name": "lookup_order", "description": "Look up an order by ID.",
    "parameters": {"type": "object", "properties": {
        "order_id": {"type": "string", "description": "Order id, e.g. ORD-10492"}},
        "required": ["order_id"]}}}
REFUND = {"type": "function", "function": {
    "name": "check_refund_eligibility", "description": "Check refund eligibility.",
    "parameters": {"type": "object", "properties": {
        "order_id": {"type": "string"},
        "reason": {"type": "string", "enum": ["late", "damaged", "other"]},
        "items": {"type": "array", "items": {"type": "string"}},
        "express": {"type": "boolean", "default": False}},
        "required": ["order_id", "reason"]}}}
TOOLS = [LOOKUP, REFUND]


def _call(cid: str, name: str, args: dict) -> dict:
    # compact separators, as models and the projection write them: a template that
    # re-serializes arguments would show up as a difference
    return {"id": cid, "type": "function",
            "function": {"name": name, "arguments": json.dumps(args, separators=(",", ":"))}}


def _tool(cid: str, name: str, content: str) -> dict:
    return {"role": "tool", "tool_call_id": cid, "name": name, "content": content}


def _base() -> list[dict]:
    return [
        {"role": "system", "content": "You are a helpful support agent for Aurora Audio."},
        {"role": "user", "content": "Hi, my package is late. Order ORD-10492?"},
        {"role": "assistant", "content": "",
         "tool_calls": [_call("call_1", "lookup_order", {"order_id": "ORD-10492"})]},
        _tool("call_1", "lookup_order", '{"status": "delayed", "eta": "2026-12-04"}'),
        {"role": "assistant", "content": "Your order ORD-10492 is delayed; it now arrives "
         "on December 4. Per policy you qualify for free expedited reshipping."},
    ]


def rows() -> dict[str, dict[str, Any]]:
    """name -> row (`messages`, `tools`), each a different shape."""
    out: dict[str, dict[str, Any]] = {}
    out["single_call"] = {"messages": _base(), "tools": TOOLS}

    m = _base()[1:]
    out["no_system"] = {"messages": m, "tools": TOOLS}

    m = _base()
    m[2] = {"role": "assistant", "content": "Let me check both for you.", "tool_calls": [
        _call("call_1", "lookup_order", {"order_id": "ORD-10492"}),
        _call("call_2", "check_refund_eligibility",
              {"order_id": "ORD-10492", "reason": "late", "items": ["headphones"]})]}
    m[3:4] = [_tool("call_1", "lookup_order", '{"status": "delayed"}'),
              _tool("call_2", "check_refund_eligibility", "eligible: yes (late > 2 days)")]
    out["parallel_calls_text_result"] = {"messages": m, "tools": TOOLS}

    m = _base()
    m[4:4] = [
        {"role": "assistant", "content": "",
         "tool_calls": [_call("call_2", "check_refund_eligibility",
                              {"order_id": "ORD-10492", "reason": "late", "express": True})]},
        _tool("call_2", "check_refund_eligibility", '{"eligible": true, "amount": 12.5}'),
    ]
    out["sequential_calls"] = {"messages": m, "tools": TOOLS}

    m = _base()
    m[2]["reasoning_content"] = "The user gave an order id; look it up first."
    m[4]["reasoning_content"] = "Delayed more than 2 days: the reshipping policy applies."
    out["reasoning"] = {"messages": m, "tools": TOOLS}

    m = _base()
    m[1:1] = [
        {"role": "user", "content": "Hello?"},
        {"role": "assistant", "content": "Hi! How can I help you today?"},
    ]
    m += [{"role": "user", "content": "Danke! Und die Rücksendung – kostenlos? 🙏 配送"},
          {"role": "assistant", "content": "Ja, die Rücksendung ist kostenlos."}]
    out["multi_turn_unicode"] = {"messages": m, "tools": TOOLS}

    m = _base()
    m[2]["content"] = "  Checking now.\n"
    m[3]["content"] = json.dumps({"status": "delayed", "notes": ["carrier\nbacklog", "φ"]},
                                 ensure_ascii=False, indent=2)
    out["whitespace_and_pretty_json_result"] = {"messages": m, "tools": [LOOKUP]}
    return out


def with_object_arguments(row: dict[str, Any]) -> dict[str, Any]:
    """The row in the `arguments_format: object` layout."""
    row = copy.deepcopy(row)
    for m in row["messages"]:
        for tc in m.get("tool_calls") or []:
            tc["function"]["arguments"] = json.loads(tc["function"]["arguments"])
    return row
