"""One generated record -> one training row, per projection type.

`project_record` returns `(row, repairs)` or raises `ProjectionError` with a reason code from
`PROJECTION_CODES`. Rows keep message order and message content exactly; the only rewrites are
to OpenAI wire format (JSON-string arguments and tool content, `type: "function"`), each
non-trivial one recorded in `repairs`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from sdgflow.project.config import OpenAIMessagesProjection, StructuredMessagesProjection
from sdgflow.project.parse import ParseError, parse_object

# Reason code -> what it means. The single table docs and reports are generated from.
PROJECTION_CODES: dict[str, str] = {
    "generate.failed": "the LLM call for the source column failed after retries (c__error)",
    "parse.truncated": "the answer was cut off (finish_reason=length, or it ends inside the "
    "JSON object); never repaired",
    "parse.no_json": "the answer holds no JSON object",
    "parse.invalid_json": "the JSON object is broken beyond small repairs",
    "parse.multiple_objects": "the answer holds more than one top-level JSON object",
    "project.missing_source": "the source column is absent or null without a recorded error",
    "project.missing_messages": "the parsed object has no list under messages_field",
}


class ProjectionError(Exception):
    def __init__(self, code: str, message: str) -> None:
        assert code in PROJECTION_CODES, code
        self.code = code
        super().__init__(message)


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # orjson refuses integers beyond 64 bits and lone surrogates; json does not.
        return json.loads(text)


def dumps_compact(value: Any) -> str:
    """Compact JSON text, non-ASCII kept (`separators=(",", ":")`, `ensure_ascii=False`)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _decode_json_text(text: str) -> tuple[Any, bool]:
    """`(value, double_encoded)` when `text` is JSON text of an object/array, else `(None, _)`."""
    head = text.lstrip()[:1]
    if head not in ("{", "[", '"'):
        return None, False
    try:
        value = loads(text)
    except ValueError:
        return None, False
    if isinstance(value, str):  # "\"{\\\"a\\\":1}\"": escaped twice
        inner, _ = _decode_json_text(value)
        return inner, inner is not None
    if isinstance(value, dict | list):
        return value, False
    return None, False


def normalize_arguments(value: Any, as_object: bool, repairs: list[str]) -> Any:
    """Dict -> compact JSON string (or dict); an already-escaped string is not encoded again."""
    if isinstance(value, str):
        decoded, double = _decode_json_text(value)
        if decoded is None:
            return value  # not JSON: left for validation to name
        if double:
            repairs.append("arguments_double_encoded")
        return decoded if as_object else dumps_compact(decoded)
    if isinstance(value, dict):
        return value if as_object else dumps_compact(value)
    return value


def normalize_tool_content(value: Any, repairs: list[str]) -> Any:
    if isinstance(value, str):
        decoded, double = _decode_json_text(value)
        if decoded is None:
            return value  # plain text tool result stays as written
        if double:
            repairs.append("tool_content_double_encoded")
        return dumps_compact(decoded)
    if isinstance(value, dict | list | int | float | bool):
        return dumps_compact(value)
    return value


def _normalize_call(call: Any, as_object: bool, repairs: list[str]) -> Any:
    if not isinstance(call, dict):
        return call
    if "function" not in call and "name" in call:  # flat {"id", "name", "arguments"}
        rest = {k: v for k, v in call.items() if k not in ("id", "type", "name", "arguments")}
        fn = {"name": call["name"]}
        if "arguments" in call:
            fn["arguments"] = call["arguments"]
        call = {**({"id": call["id"]} if "id" in call else {}), "type": "function",
                "function": fn, **rest}
        repairs.append("tool_call_wrapped")
    elif "type" not in call:
        call = {**({"id": call["id"]} if "id" in call else {}), "type": "function",
                **{k: v for k, v in call.items() if k != "id"}}
        repairs.append("tool_call_type_added")
    fn = call.get("function")
    if isinstance(fn, dict) and "arguments" in fn:
        fn["arguments"] = normalize_arguments(fn["arguments"], as_object, repairs)
    return call


def _normalize_tool(tool: Any, repairs: list[str]) -> Any:
    if not isinstance(tool, dict):
        return tool
    if "function" not in tool and "name" in tool:  # flat {"name", "description", "parameters"}
        tool = {"type": "function", "function": {k: v for k, v in tool.items() if k != "type"}}
        repairs.append("tool_wrapped")
    elif "type" not in tool:
        tool = {"type": "function", **tool}
        repairs.append("tool_type_added")
    fn = tool.get("function")
    if isinstance(fn, dict) and isinstance(fn.get("parameters"), str):
        decoded, _ = _decode_json_text(fn["parameters"])
        if isinstance(decoded, dict):
            fn["parameters"] = decoded
            repairs.append("parameters_decoded")
    return tool


def _source_text(record: dict[str, Any], field: str) -> Any:
    if field not in record:
        raise ProjectionError(
            "project.missing_source",
            f"the record has no column '{field}' (columns: {', '.join(sorted(record))[:200]})",
        )
    value = record[field]
    error = record.get(f"{field}__error")
    if (value is None or (isinstance(value, str) and not value.strip())) and error:
        raise ProjectionError("generate.failed", f"generating '{field}' failed: {error}")
    # Checked before emptiness: a reply whose tokens all went to reasoning is empty AND cut off,
    # and the fix is the same as for any truncation.
    if record.get(f"{field}__finish_reason") == "length":
        raise ProjectionError(
            "parse.truncated",
            f"column '{field}' was cut off at the token limit (finish_reason=length); truncated "
            "output is never repaired (raise inference_parameters.max_tokens)",
        )
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ProjectionError(
            "project.missing_source",
            f"column '{field}' is {'null' if value is None else 'empty'} and no generation "
            "error was recorded",
        )
    return value


def _metadata(record: dict[str, Any], fields: list[str], row: dict[str, Any]) -> None:
    for name in fields:
        if name not in row:
            row[name] = record.get(name)


def project_structured(
    record: dict[str, Any], projection: StructuredMessagesProjection
) -> tuple[dict[str, Any], list[str]]:
    source = _source_text(record, projection.source_field)
    if isinstance(source, dict):
        obj, repairs = loads(orjson.dumps(source)), []  # a copy: the record stays as read
    else:
        try:
            obj, repairs = parse_object(str(source))
        except ParseError as exc:
            raise ProjectionError(exc.code, f"column '{projection.source_field}': {exc}") from exc
    messages = obj.get(projection.messages_field)
    if not isinstance(messages, list):
        what = "missing" if messages is None else f"a {type(messages).__name__}, not a list"
        raise ProjectionError(
            "project.missing_messages",
            f"'{projection.messages_field}' is {what} in the parsed object "
            f"(keys: {', '.join(map(str, obj))[:200]})",
        )
    as_object = projection.arguments_format == "object"
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        calls = msg.get("tool_calls")
        if isinstance(calls, list):
            msg["tool_calls"] = [_normalize_call(c, as_object, repairs) for c in calls]
        if msg.get("role") == "tool" and "content" in msg:
            msg["content"] = normalize_tool_content(msg["content"], repairs)
    row: dict[str, Any] = {"messages": messages}
    tools = obj.get(projection.tools_field)
    if tools is not None:
        row["tools"] = [_normalize_tool(t, repairs) for t in tools] if isinstance(
            tools, list) else tools
    # The `json_string` layouts (see sdgflow.project.layout): the array's compact text.
    for key, fmt in (("messages", projection.messages_format), ("tools", projection.tools_format)):
        if fmt == "json_string" and key in row:
            row[key] = dumps_compact(row[key])
    _metadata(record, projection.metadata_fields, row)
    return row, repairs


def project_openai(
    record: dict[str, Any], projection: OpenAIMessagesProjection
) -> tuple[dict[str, Any], list[str]]:
    user = _source_text(record, projection.user_field)
    assistant = _source_text(record, projection.assistant_field)
    messages: list[dict[str, Any]] = []
    if projection.system_prompt:
        messages.append({"role": "system", "content": projection.system_prompt})
    messages.append({"role": "user", "content": str(user).strip()})
    messages.append({"role": "assistant", "content": str(assistant).strip()})
    row: dict[str, Any] = {"messages": messages}
    _metadata(record, projection.metadata_fields, row)
    return row, []


def project_record(
    record: dict[str, Any], projection: StructuredMessagesProjection | OpenAIMessagesProjection
) -> tuple[dict[str, Any], list[str]]:
    if projection.type == "structured_messages":
        return project_structured(record, projection)
    return project_openai(record, projection)


def source_fields(
    projection: StructuredMessagesProjection | OpenAIMessagesProjection,
) -> list[str]:
    if projection.type == "structured_messages":
        return [projection.source_field]
    return [projection.user_field, projection.assistant_field]
