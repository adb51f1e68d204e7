"""Projection: parse tolerance, wire-format normalisation, rejects, streaming inputs."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json as paj
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from conversations import CONTEXT, clean_messages, clean_row, reference_text

from sdgflow.project.config import OpenAIMessagesProjection, StructuredMessagesProjection
from sdgflow.project.parse import ParseError, parse_object
from sdgflow.project.projections import PROJECTION_CODES, ProjectionError, project_record
from sdgflow.project.run import iter_records, project_records, projection_columns
from sdgflow.validate.config import ValidationConfig
from sdgflow.validate.run import validate_file

PROJ = StructuredMessagesProjection(
    type="structured_messages", source_field="conversation",
    metadata_fields=["customer_name", "issue", "order_id", "product", "urgency", "channel"])
REFERENCE = reference_text(clean_row())


def record(text: Any, record_id: int = 0, **extra: Any) -> dict[str, Any]:
    return {"record_id": record_id, **CONTEXT, "conversation": text,
            "conversation__finish_reason": "stop", "conversation__error": None,
            "conversation__attempts": 1, **extra}


def project(text: Any, projection: Any = PROJ, **extra: Any) -> tuple[dict[str, Any], list[str]]:
    return project_record(record(text, **extra), projection)


# ---------------------------------------------------------------------------------------------
# parse


@pytest.mark.parametrize(("text", "repairs"), [
    (REFERENCE, []),
    ("\n\n  " + REFERENCE + "\n", []),
    ("```json\n" + REFERENCE + "\n```", ["markdown_fence"]),
    ("```\n" + REFERENCE + "\n```\n", ["markdown_fence"]),
    ("Here is the conversation:\n```json\n" + REFERENCE + "\n```\nHope this helps!",
     ["markdown_fence", "preamble", "trailing_text"]),
    ("Sure! Here it is:\n" + REFERENCE, ["preamble"]),
    (REFERENCE + "\n\nLet me know if you need changes.", ["trailing_text"]),
    (REFERENCE[:-2] + ",\n}", ["trailing_comma"]),
])
def test_tolerated_wrappers_and_slips(text: str, repairs: list[str]) -> None:
    row, seen = project(text)
    assert seen == repairs
    assert row["messages"] == clean_messages()


def test_single_quotes_are_repaired() -> None:
    obj, repairs = parse_object("{'messages': [{'role': 'user', 'content': 'hi'}], 'tools': []}")
    assert obj["messages"] == [{"role": "user", "content": "hi"}]
    assert repairs == ["single_quotes"]


def test_raw_newlines_in_strings_are_repaired() -> None:
    obj, repairs = parse_object('{"messages": [{"role": "user", "content": "a\nb"}]}')
    assert obj["messages"][0]["content"] == "a\nb" and repairs == ["control_characters"]


def test_braces_inside_strings_do_not_end_the_object() -> None:
    text = 'Intro {not json} text\n{"messages": [{"role": "user", "content": "a } b \\" {"}]}'
    with pytest.raises(ParseError):  # the first `{` opens prose, then a second object follows
        parse_object(text)
    obj, repairs = parse_object('Intro:\n{"messages": [{"role": "user", "content": "a } \\" {"}]}')
    assert obj["messages"][0]["content"] == 'a } " {' and repairs == ["preamble"]


@pytest.mark.parametrize(("text", "finish", "code"), [
    (REFERENCE[: len(REFERENCE) // 2], "stop", "parse.truncated"),
    (REFERENCE[:-1], "stop", "parse.truncated"),
    ("```json\n" + REFERENCE[:300], "stop", "parse.truncated"),
    (REFERENCE, "length", "parse.truncated"),
    ("I'm sorry, I can't help with that.", "stop", "parse.no_json"),
    ("{\"messages\": [1, 2,, @@ ]]}", "stop", "parse.invalid_json"),
    (REFERENCE + "\n" + REFERENCE, "stop", "parse.multiple_objects"),
    ("{\"conversation\": []}", "stop", "project.missing_messages"),
    ("{\"messages\": \"hi\"}", "stop", "project.missing_messages"),
    (None, "stop", "project.missing_source"),
    ("   ", "stop", "project.missing_source"),
])
def test_unprojectable_records_get_a_reason_code(text: Any, finish: str, code: str) -> None:
    with pytest.raises(ProjectionError) as info:
        project(text, conversation__finish_reason=finish)
    assert info.value.code == code and code in PROJECTION_CODES
    assert len(str(info.value)) > 20


def test_truncated_text_is_never_repaired_even_if_json_repair_could() -> None:
    cut = REFERENCE[: REFERENCE.rindex("}") - 40]
    with pytest.raises(ProjectionError) as info:
        project(cut)
    assert info.value.code == "parse.truncated"
    assert "ends inside the JSON object" in str(info.value)


def test_generation_failure_is_a_reject_with_its_error(tmp_path: Path) -> None:
    records = [record(REFERENCE, 0),
               record(None, 1, conversation__error="RateLimitError: 429 after 6 retries"),
               record(REFERENCE, 2, conversation__finish_reason="length")]
    summary = project_records(records, PROJ, tmp_path / "p.jsonl", tmp_path / "r.jsonl")
    assert (summary.projected, summary.rejected) == (1, 2)
    rejects = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [(r["record_id"], r["codes"], r["stage"]) for r in rejects] == [
        (1, ["generate.failed"], "project"), (2, ["parse.truncated"], "project")]
    assert "RateLimitError: 429" in rejects[0]["reasons"][0]
    assert rejects[1]["raw"] == REFERENCE and rejects[0]["row"] is None


# ---------------------------------------------------------------------------------------------
# normalisation


def test_objects_become_compact_json_strings_and_type_is_added() -> None:
    conv = json.loads(REFERENCE)
    del conv["messages"][4]["tool_calls"][0]["type"]
    del conv["tools"][0]["type"]
    conv["messages"][5]["content"] = {"status": "délayed", "eta": "tomorrow"}
    row, repairs = project(json.dumps(conv))
    call = row["messages"][4]["tool_calls"][0]
    assert list(call) == ["id", "type", "function"] and call["type"] == "function"
    assert call["function"]["arguments"] == '{"order_id":"ORD-10492"}'
    assert row["messages"][5]["content"] == '{"status":"délayed","eta":"tomorrow"}'
    assert row["tools"][0]["type"] == "function"
    assert repairs == ["tool_call_type_added", "tool_type_added"]


def test_already_escaped_strings_are_not_encoded_again() -> None:
    conv = json.loads(REFERENCE)
    conv["messages"][4]["tool_calls"][0]["function"]["arguments"] = '{"order_id": "ORD-10492"}'
    conv["messages"][5]["content"] = '{"status": "delayed", "eta": "tomorrow"}'
    row, repairs = project(json.dumps(conv))
    assert row["messages"] == clean_messages() and repairs == []


def test_double_encoded_strings_are_unwrapped_once() -> None:
    conv = json.loads(REFERENCE)
    conv["messages"][4]["tool_calls"][0]["function"]["arguments"] = json.dumps(
        json.dumps({"order_id": "ORD-10492"}))
    row, repairs = project(json.dumps(conv))
    assert row["messages"] == clean_messages() and repairs == ["arguments_double_encoded"]


def test_plain_text_tool_content_stays_as_written() -> None:
    conv = json.loads(REFERENCE)
    conv["messages"][5]["content"] = "Order is delayed; ETA tomorrow."
    row, _ = project(json.dumps(conv))
    assert row["messages"][5]["content"] == "Order is delayed; ETA tomorrow."


def test_flat_tool_and_call_shapes_are_wrapped() -> None:
    conv = json.loads(REFERENCE)
    conv["tools"] = [conv["tools"][0]["function"]]
    conv["messages"][4]["tool_calls"] = [{"id": "call_001", "name": "lookup_order",
                                          "arguments": {"order_id": "ORD-10492"}}]
    row, repairs = project(json.dumps(conv))
    assert row == {**clean_row(), **{k: CONTEXT[k] for k in PROJ.metadata_fields}}
    assert repairs == ["tool_call_wrapped", "tool_wrapped"]


def test_message_order_content_and_metadata_are_kept_exactly() -> None:
    conv = json.loads(REFERENCE)
    conv["messages"][1]["content"] = "  hi!!  🙂 \n ünïcode  "
    conv["messages"][1]["extra_key"] = [1, 2]
    row, _ = project(json.dumps(conv, ensure_ascii=False))
    assert row["messages"][1] == conv["messages"][1]
    assert [m["role"] for m in row["messages"]] == [m["role"] for m in conv["messages"]]
    assert list(row) == ["messages", "tools", *PROJ.metadata_fields]
    assert row["urgency"] == "frustrated"


def test_arguments_format_object_writes_dicts() -> None:
    projection = PROJ.model_copy(update={"arguments_format": "object"})
    conv = json.loads(REFERENCE)
    conv["messages"][4]["tool_calls"][0]["function"]["arguments"] = '{"order_id":"ORD-10492"}'
    row, _ = project(json.dumps(conv), projection)
    assert row["messages"][4]["tool_calls"][0]["function"]["arguments"] == {
        "order_id": "ORD-10492"}
    assert row["messages"][5]["content"] == '{"status":"delayed","eta":"tomorrow"}'


@pytest.mark.parametrize("arguments", ["string", "object"])
def test_json_string_layouts_write_the_lists_compact_text(arguments: str) -> None:
    as_lists, _ = project(REFERENCE, PROJ.model_copy(update={"arguments_format": arguments}))
    projection = PROJ.model_copy(update={"arguments_format": arguments,
                                         "tools_format": "json_string",
                                         "messages_format": "json_string"})
    row, _ = project(REFERENCE, projection)
    assert list(row) == list(as_lists)
    for key in ("messages", "tools"):
        assert row[key] == json.dumps(as_lists[key], separators=(",", ":"), ensure_ascii=False)
    assert {k: v for k, v in row.items() if k not in ("messages", "tools")} == {
        k: v for k, v in as_lists.items() if k not in ("messages", "tools")}


def test_openai_messages_projection() -> None:
    projection = OpenAIMessagesProjection(type="openai_messages", user_field="q",
                                          assistant_field="a", system_prompt="Be brief.",
                                          metadata_fields=["topic"])
    rec = {"record_id": 3, "topic": "ferns", "q": "How do I repot a fern?\n",
           "a": "Use a pot one size up.", "q__finish_reason": "stop", "a__finish_reason": "stop"}
    row, _repairs = project_record(rec, projection)
    assert row == {"messages": [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "How do I repot a fern?"},
                                {"role": "assistant", "content": "Use a pot one size up."}],
                   "topic": "ferns"}
    with pytest.raises(ProjectionError) as info:
        project_record({**rec, "a": None, "a__error": "Timeout"}, projection)
    assert info.value.code == "generate.failed"
    with pytest.raises(ProjectionError) as info:
        project_record({**rec, "a__finish_reason": "length"}, projection)
    assert info.value.code == "parse.truncated"


# ---------------------------------------------------------------------------------------------
# property: never double-encode

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9),
                         st.floats(allow_nan=False, allow_infinity=False, width=32),
                         st.text(max_size=12))
json_objects = st.dictionaries(st.text(min_size=1, max_size=8), st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(max_size=5), inner, max_size=3), max_leaves=8), max_size=4)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(args=json_objects, content=json_objects, escape_args=st.integers(0, 2),
       escape_content=st.integers(0, 2), fmt=st.sampled_from(["string", "object"]))
def test_projection_never_double_encodes(args: dict, content: dict, escape_args: int,
                                         escape_content: int, fmt: str) -> None:
    def encode(value: Any, times: int) -> Any:
        for _ in range(times):
            value = json.dumps(value)
        return value

    conv = json.loads(REFERENCE)
    conv["messages"][4]["tool_calls"][0]["function"]["arguments"] = encode(args, escape_args)
    conv["messages"][5]["content"] = encode(content, escape_content)
    projection = PROJ.model_copy(update={"arguments_format": fmt})
    row, _ = project(json.dumps(conv), projection)
    arguments = row["messages"][4]["tool_calls"][0]["function"]["arguments"]
    if fmt == "string":
        assert isinstance(arguments, str) and json.loads(arguments) == args
    else:
        assert arguments == args
    assert json.loads(row["messages"][5]["content"]) == content
    again, repairs = project(json.dumps(row, ensure_ascii=False), projection)
    assert again == row and repairs == []  # projecting a projected row changes nothing
    again, _ = project_record(record(copy.deepcopy(row)), projection)
    assert again == row


# ---------------------------------------------------------------------------------------------
# inputs, outputs, streaming


def _write_shard(path: Path, records: list[dict[str, Any]]) -> None:
    pq.write_table(pa.Table.from_pylist(records), path)


def test_parquet_directory_in_shard_order_and_context(tmp_path: Path) -> None:
    gen = tmp_path / "gen"
    gen.mkdir()
    for k in (0, 2, 10):
        _write_shard(gen / f"shard-{k}.parquet", [record(REFERENCE, k * 10 + i) for i in range(3)])
    records = list(iter_records(gen, projection_columns(gen, PROJ)))
    assert [r["record_id"] for r in records] == [0, 1, 2, 20, 21, 22, 100, 101, 102]
    assert "conversation__attempts" not in records[0]  # unread: projection never needs it
    out, rej = tmp_path / "projected.jsonl", tmp_path / "rejects.jsonl"
    summary = project_records(records, PROJ, out, rej)
    assert summary.projected == 9
    first = json.loads(out.read_text().splitlines()[0])
    assert first["_sdg"]["record_id"] == 0 and first["_sdg"]["repairs"] == []
    # Every seed/sampler column, but not the source column's raw text: no check reads it, it
    # stays in the shards (and in projection rejects), and it was ~60% of each projected line.
    assert first["_sdg"]["context"] == CONTEXT
    assert next(iter(iter_records(gen / "shard-2.parquet")))["record_id"] == 20


def test_jsonl_records_input(tmp_path: Path) -> None:
    src = tmp_path / "records.jsonl"
    src.write_text(json.dumps(record(REFERENCE, 5)) + "\n\n" + json.dumps(record(REFERENCE, 6)))
    assert [r["record_id"] for r in iter_records(src)] == [5, 6]


def test_final_jsonl_round_trips_through_pyarrow_json(tmp_path: Path) -> None:
    records = [record(REFERENCE, i) for i in range(3)]
    for i, rec in enumerate(records):  # distinct conversations (dedupe is on)
        rec["conversation"] = REFERENCE.replace("It's ORD-10492.", f"It's ORD-10492, #{i}.")
    project_records(records, PROJ, tmp_path / "p.jsonl", tmp_path / "pr.jsonl")
    out = tmp_path / "customer_support_tool_sft.jsonl"
    validate_file(tmp_path / "p.jsonl", ValidationConfig(), PROJ, out, tmp_path / "r.jsonl",
                  tmp_path / "v.json", tmp_path / "pr.jsonl")
    table = paj.read_json(out)
    assert table.num_rows == 3
    assert {"messages", "tools", "customer_name", "order_id"} <= set(table.column_names)
    assert "_sdg" not in table.column_names
    first = table.to_pylist()[0]
    assert first["messages"][4]["tool_calls"][0]["function"]["arguments"] == (
        '{"order_id":"ORD-10492"}')
    assert first["tools"][0]["function"]["name"] == "lookup_order"


def test_streaming_memory_stays_flat(tmp_path: Path) -> None:
    import tracemalloc

    def records(n: int):
        for i in range(n):
            yield record(REFERENCE.replace("It's ORD-10492.", f"It's ORD-10492 ({i})."), i)

    peaks = []
    for n in (500, 5000):
        tracemalloc.start()
        project_records(records(n), PROJ, tmp_path / "p.jsonl", tmp_path / "r.jsonl")
        validate_file(tmp_path / "p.jsonl", ValidationConfig(min_pass_rate=0), PROJ,
                      tmp_path / "v.jsonl", tmp_path / "vr.jsonl", tmp_path / "v.json")
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # 10x the records: the peak grows only by the per-row tables: the dedupe hashes (a few dozen
    # bytes each), the near-duplicate index (~140 bytes a row) and the distinct-n sample of
    # the diversity figures (its first 10,000 rows' words and word pairs).
    assert peaks[1] < peaks[0] + 5000 * 600, peaks
    assert peaks[1] < 8 * 1024 * 1024
