"""Turn an LLM's text answer into one JSON object, or say precisely why it cannot be done.

Order of attempts, cheapest first:
1. the stripped text is exactly one object -> `orjson.loads` (no repair);
2. strip a markdown fence, then locate the one balanced top-level object (string-aware), so a
   short preamble or trailing prose around it is tolerated (each recorded as a repair);
3. raw control characters inside strings -> `json.loads(strict=False)`;
4. small syntax slips (trailing commas, single quotes, Python literals, comments, missing
   commas) -> `json_repair`, recording which slip was seen.
Text that ends inside the object (or `finish_reason == "length"`) is truncated and is never
repaired: a repaired truncation would be a conversation the model never finished.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\r?\n?(.*?)(?:```|\Z)", re.S)
_TRAILING_COMMA = re.compile(r",\s*[}\]]")
_SINGLE_QUOTES = re.compile(r"[{\[,:]\s*'")
_PY_LITERALS = re.compile(r"[:\[,]\s*(?:True|False|None)\b")
_COMMENTS = re.compile(r"(?m)^\s*(?://|#)|/\*")


class ParseError(Exception):
    """`code` is a projection reason code; the message is the human sentence."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


_STRUCTURE = re.compile(r'[\\"{}\[\]]')  # the only characters _balanced_end reacts to


def _balanced_end(text: str, start: int) -> int:
    """Index just past the object opening at `start`, or -1 when the text ends inside it.

    Jumps from one backslash, quote or bracket to the next (a regex scan) instead of looking
    at every character in Python; a backslash inside a string skips the character after it."""
    depth = 0
    in_string = False
    escaped_at = -1
    for found in _STRUCTURE.finditer(text, start):
        i = found.start()
        if i == escaped_at:
            continue
        ch = found.group()
        if in_string:
            if ch == "\\":
                escaped_at = i + 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def _classify_slips(candidate: str) -> list[str]:
    slips = []
    if _TRAILING_COMMA.search(candidate):
        slips.append("trailing_comma")
    if _SINGLE_QUOTES.search(candidate):
        slips.append("single_quotes")
    if _PY_LITERALS.search(candidate):
        slips.append("python_literals")
    if _COMMENTS.search(candidate):
        slips.append("comments")
    return slips or ["json_repair"]


def parse_object(text: str, finish_reason: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """Return `(object, repairs)`; raise `ParseError` with a reason code otherwise."""
    if finish_reason == "length":
        raise ParseError(
            "parse.truncated",
            "the model stopped at its token limit (finish_reason=length); truncated output is "
            "never repaired (raise inference_parameters.max_tokens)",
        )
    stripped = text.strip()
    if not stripped:
        raise ParseError("parse.no_json", "the answer is empty")
    if stripped[0] == "{" and stripped[-1] == "}":
        try:
            obj = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            pass
        else:
            if isinstance(obj, dict):
                return obj, []

    repairs: list[str] = []
    body = stripped
    if "```" in body:
        fence = _FENCE.search(body)
        if fence and "{" in fence.group(2):
            before, after = body[: fence.start()].strip(), body[fence.end():].strip()
            body = fence.group(2).strip()
            repairs.append("markdown_fence")
            if before:
                repairs.append("preamble")
            if after:
                repairs.append("trailing_text")
    start = body.find("{")
    if start < 0:
        raise ParseError(
            "parse.no_json", f"no JSON object in the answer (starts with {_snippet(stripped)})"
        )
    end = _balanced_end(body, start)
    if end < 0:
        raise ParseError(
            "parse.truncated",
            f"the answer ends inside the JSON object (ends with {_snippet(stripped, tail=True)}); "
            "truncated output is never repaired",
        )
    before, after = body[:start].strip(), body[end:].strip()
    if before and "preamble" not in repairs:
        repairs.append("preamble")
    if after:
        if after.find("{") >= 0 and _balanced_end(after, after.find("{")) > 0:
            raise ParseError(
                "parse.multiple_objects",
                "the answer holds more than one top-level JSON object; cannot tell which is the "
                "conversation",
            )
        if "trailing_text" not in repairs:
            repairs.append("trailing_text")
    candidate = body[start:end]
    try:
        obj = orjson.loads(candidate)
    except orjson.JSONDecodeError as exc:
        try:
            obj = json.loads(candidate, strict=False)
            repairs.append("control_characters")
        except json.JSONDecodeError:
            obj = _repair(candidate, exc)
            repairs.extend(_classify_slips(candidate))
    if not isinstance(obj, dict):
        raise ParseError("parse.invalid_json", f"the JSON value is a {type(obj).__name__}, "
                         "not an object")
    return obj, repairs


def _repair(candidate: str, exc: Exception) -> Any:
    import json_repair

    try:
        obj = json_repair.loads(candidate)
    except Exception as repair_exc:  # json_repair raises assorted errors on hopeless input
        raise ParseError(
            "parse.invalid_json", f"invalid JSON that json_repair could not fix: {repair_exc}"
        ) from exc
    if not isinstance(obj, dict) or not obj:
        raise ParseError("parse.invalid_json", f"invalid JSON beyond small repairs: {exc}")
    # json_repair drops what it cannot read; a small slip costs a few characters, not content.
    kept = len(orjson.dumps(obj, default=str))
    original = len(candidate.encode()) - sum(candidate.count(ws) for ws in " \n\t\r")
    if kept < 0.9 * original:
        raise ParseError(
            "parse.invalid_json",
            f"invalid JSON ({exc}); repairing it would drop {1 - kept / original:.0%} of the text",
        )
    return obj


def _snippet(text: str, tail: bool = False, width: int = 40) -> str:
    part = text[-width:] if tail else text[:width]
    return repr(("…" if tail and len(text) > width else "") + part
                + ("…" if not tail and len(text) > width else ""))
