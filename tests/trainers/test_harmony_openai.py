"""The harmony renderer against openai-harmony itself: the token ids a gpt-oss trainer gets from
`render_conversation_for_training` for the conversation it builds from a row.

`conversation()` is that mapping, written out plainly (it is what the renderer's module docstring
promises). Each row is rendered by our renderer through the pack stage's own path
(`process_lines(..., keep_tokens=True)`) and must give the same ids, the same count, the same
decoded text, and a loss mask covering exactly what follows `<|start|>assistant` in each
assistant message.
"""

from __future__ import annotations

import copy
import json

import orjson
import pytest

oh = pytest.importorskip("openai_harmony")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sdgflow.pack.render import harmony as harmony_mod  # noqa: E402
from sdgflow.pack.render.harmony import HarmonyRenderer  # noqa: E402
from sdgflow.pack.run import process_lines  # noqa: E402
from sdgflow.pack.tokenizer import load_tokenizer  # noqa: E402

from .vocab_files import write_tiktoken  # noqa: E402

Role, Message, Author = oh.Role, oh.Message, oh.Author


@pytest.fixture(scope="module")
def enc(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiktoken")
    write_tiktoken("o200k_base", d / "o200k_base.tiktoken")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIKTOKEN_ENCODINGS_BASE", str(d))
        yield oh.load_harmony_encoding(oh.HarmonyEncodingName.HARMONY_GPT_OSS)


@pytest.fixture(scope="module")
def renderer():
    return HarmonyRenderer(load_tokenizer("o200k_harmony"))


# ----------------------------------------------------------------------------- the trainer side

EFFORT = {"low": oh.ReasoningEffort.LOW, "medium": oh.ReasoningEffort.MEDIUM,
          "high": oh.ReasoningEffort.HIGH}


def system_content() -> oh.SystemContent:
    sc = (oh.SystemContent.new()
          .with_model_identity(harmony_mod.HARMONY_MODEL_IDENTITY)
          .with_knowledge_cutoff(harmony_mod.HARMONY_KNOWLEDGE_CUTOFF)
          .with_reasoning_effort(EFFORT[harmony_mod.HARMONY_REASONING_EFFORT]))
    if harmony_mod.HARMONY_CURRENT_DATE is not None:
        sc = sc.with_conversation_start_date(harmony_mod.HARMONY_CURRENT_DATE)
    return sc


def conversation(row: dict) -> oh.Conversation:
    """The harmony conversation a trainer builds from an SFT row."""
    msgs = row["messages"]
    fns = [t["function"] for t in row.get("tools") or []]
    out = [Message.from_role_and_content(Role.SYSTEM, system_content())]
    i = 0
    instructions = []
    while i < len(msgs) and msgs[i]["role"] in ("system", "developer"):
        instructions.append(msgs[i]["content"])
        i += 1
    if instructions or fns:
        dev = oh.DeveloperContent.new()
        if instructions:
            dev = dev.with_instructions("\n\n".join(instructions))
        if fns:
            dev = dev.with_function_tools([
                oh.ToolDescription.new(f["name"], f.get("description") or "",
                                       parameters=f.get("parameters"))
                for f in fns])
        out.append(Message.from_role_and_content(Role.DEVELOPER, dev))
    call_names = {}
    for m in msgs[i:]:
        content = m.get("content") or ""
        if m["role"] in ("system", "developer"):
            out.append(Message.from_role_and_content(Role.DEVELOPER, content))
        elif m["role"] == "user":
            out.append(Message.from_role_and_content(Role.USER, content))
        elif m["role"] == "tool":
            name = m.get("name") or call_names[m["tool_call_id"]]
            out.append(Message.from_author_and_content(
                Author.new(Role.TOOL, f"functions.{name}"), content)
                .with_recipient("assistant").with_channel("commentary"))
        else:
            if m.get("reasoning_content"):
                out.append(Message.from_role_and_content(Role.ASSISTANT, m["reasoning_content"])
                           .with_channel("analysis"))
            calls = m.get("tool_calls") or []
            if not calls:
                out.append(Message.from_role_and_content(Role.ASSISTANT, content)
                           .with_channel("final"))
                continue
            if content:
                out.append(Message.from_role_and_content(Role.ASSISTANT, content)
                           .with_channel("commentary"))
            for c in calls:
                call_names[c["id"]] = c["function"]["name"]
                out.append(Message.from_role_and_content(Role.ASSISTANT,
                                                         c["function"]["arguments"])
                           .with_channel("commentary")
                           .with_recipient(f"functions.{c['function']['name']}")
                           .with_content_type("<|constrain|>json"))
    return oh.Conversation.from_messages(out)


def expected_mask(ids: list[int], tok) -> list[int]:
    """1 from the token after `<|start|>assistant` to the message's closing token."""
    sp = tok.specials
    start, ends = sp["<|start|>"], {sp["<|end|>"], sp["<|call|>"], sp["<|return|>"]}
    assistant = tok.encode_ordinary("assistant")
    mask = [0] * len(ids)
    k = 0
    while k < len(ids):
        if ids[k] == start and ids[k + 1:k + 1 + len(assistant)] == assistant:
            k += 1 + len(assistant)
            while ids[k] not in ends:
                mask[k] = 1
                k += 1
            mask[k] = 1
        k += 1
    return mask


def check(row: dict, enc, renderer) -> list[int]:
    want = enc.render_conversation_for_training(conversation(row))
    # json, not orjson: big integers are fine in a JSONL line (orjson reads them as floats,
    # as serde_json does)
    line = json.dumps(row, ensure_ascii=False).encode()
    chunk = process_lines([line], renderer, True)
    got = chunk.tokens.tolist()
    if got != want:  # show the text around the first difference
        k = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
                 min(len(got), len(want)))
        pytest.fail(f"first difference at token {k}:\n ours    {enc.decode(got[k - 5:k + 20])!r}"
                    f"\n harmony {enc.decode(want[k - 5:k + 20])!r}")
    assert int(chunk.total[0]) == len(want)
    mask = expected_mask(want, renderer.tok)
    assert chunk.mask.tolist() == mask
    assert int(chunk.loss[0]) == sum(mask)
    assert renderer.render(orjson.loads(line)).text == enc.decode_utf8(want)
    return want


# ----------------------------------------------------------------------------- rows


def call(cid: str, name: str, args: dict | str) -> dict:
    a = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": a}}


def fn(name, description, parameters=None, **extra) -> dict:
    f = {"name": name, "description": description, **extra}
    if parameters is not None:
        f["parameters"] = parameters
    return {"type": "function", "function": f}


LOOKUP = fn("lookup_order", "Look up an order by ID.", {
    "type": "object", "properties": {"order_id": {"type": "string", "description": "Order id"}},
    "required": ["order_id"]})
WEATHER = fn("get_weather", "Current weather for a city.\nUse metric units unless asked.", {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name, e.g. \"Zürich\""},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
        "days": {"type": "integer", "default": 1, "description": "Forecast days"},
        "hourly": {"type": "boolean", "default": False},
        "fields": {"type": "array", "items": {"type": "string", "enum": ["temp", "wind"]}},
    },
    "required": ["city"]})
SEARCH = fn("search_catalog", "Search the catalog.", {
    "type": "object",
    "description": "Search filters",
    "properties": {
        "query": {"type": "string", "title": "Query", "examples": ["red shoes", "usb-c"]},
        "filters": {
            "type": "object",
            "description": "Optional filters",
            "properties": {
                "price_max": {"type": "number", "default": 99.5},
                "brands": {"type": "array", "items": {"type": "string"}, "default": ["acme"]},
                "in_stock": {"type": ["boolean", "null"]},
                "sort": {"type": "string", "enum": ["price", "rating"], "nullable": True},
            },
            "required": ["price_max"],
        },
        "page": {"oneOf": [{"type": "integer", "description": "page number"},
                           {"type": "string", "default": "first"}],
                 "description": "Which page"},
        "tags": {"type": "array"},
        "meta": {"type": "object"},
        "anything": {},
        "ratio": {"type": "number", "default": 1e-05},
        "big": {"type": "integer", "default": 10 ** 17},
        "opts": {"type": "object", "default": {"a": [1, 2.0], "ü": None}},
    },
    "required": ["query"]})
NO_PARAMS = fn("ping", "Health check.")
EMPTY_PARAMS = fn("list_orders", "", {"type": "object", "properties": {}})
UNICODE_TOOL = fn("traduire", "Traduit un texte — 翻訳します 🌍", {
    "type": "object",
    "properties": {"texte": {"type": "string", "description": "Le texte à traduire"},
                   "langue": {"type": "string", "enum": ["fr", "日本語"]}},
    "required": ["texte", "langue"]})

SYSTEM = {"role": "system", "content": "You are a helpful support agent."}


def row(*messages, tools=(LOOKUP,)) -> dict:
    return {"messages": list(messages), "tools": list(tools)}


def u(text):
    return {"role": "user", "content": text}


def a(text, calls=None, reasoning=None):
    m = {"role": "assistant", "content": text}
    if calls:
        m["tool_calls"] = calls
    if reasoning:
        m["reasoning_content"] = reasoning
    return m


def t(cid, content, name=None):
    m = {"role": "tool", "tool_call_id": cid, "content": content}
    if name:
        m["name"] = name
    return m


ORDER = '{"status": "delayed", "eta": "tomorrow"}'
ROWS = {
    "one_call": row(
        SYSTEM, u("Where is ORD-1?"), a("", [call("c1", "lookup_order", {"order_id": "ORD-1"})]),
        t("c1", ORDER, "lookup_order"), a("It arrives tomorrow.")),
    "parallel_calls": row(
        SYSTEM, u("Weather in Paris and Zürich, and order ORD-2?"),
        a("", [call("c1", "get_weather", {"city": "Paris"}),
               call("c2", "get_weather", {"city": "Zürich", "unit": "celsius", "days": 3}),
               call("c3", "lookup_order", {"order_id": "ORD-2"})]),
        t("c1", "Sunny, 21 °C"), t("c2", '{"temp": 12.5, "sky": "cloudy"}'),
        t("c3", ORDER), a("Paris is sunny, Zürich cloudy; your order arrives tomorrow."),
        tools=(LOOKUP, WEATHER)),
    "calls_across_turns": row(
        SYSTEM, u("Hi, my package is late."), a("Sorry! What is the order id?"),
        u("ORD-10492"), a("", [call("c1", "lookup_order", {"order_id": "ORD-10492"})]),
        t("c1", ORDER), a("It is delayed, arriving tomorrow."), u("And the weather there?"),
        a("", [call("c2", "get_weather", {"city": "Lyon", "fields": ["temp", "wind"]})]),
        t("c2", "plain text: 18 degrees, light wind"), a("18 degrees and a light wind."),
        u("Thanks!"), a("You're welcome."), tools=(LOOKUP, WEATHER)),
    "no_system_with_tools": row(
        u("ping"), a("", [call("c1", "ping", "{}")]), t("c1", "pong"), a("Up."),
        tools=(NO_PARAMS, EMPTY_PARAMS)),
    "no_system_no_tools": row(u("Say hi"), a("Hi!"), tools=()),
    "system_no_tools": row(SYSTEM, u("Say hi"), a("Hi!"), tools=()),
    "system_and_developer": row(
        SYSTEM, {"role": "developer", "content": "Always answer in one sentence.\nBe polite."},
        u("Order ORD-3?"), a("", [call("c1", "lookup_order", {"order_id": "ORD-3"})]),
        t("c1", ORDER), a("Delayed until tomorrow.")),
    "late_system_message": row(
        SYSTEM, u("Hello"), a("Hi, how can I help?"),
        {"role": "system", "content": "The user is a premium customer."}, u("Refund?"),
        a("Let me check that for you.")),
    "reasoning_dropped": row(
        SYSTEM, u("Where is ORD-4?"),
        a("", [call("c1", "lookup_order", {"order_id": "ORD-4"})], "Need the order status."),
        t("c1", ORDER), a("Arrives tomorrow.", reasoning="The tool says delayed.")),
    "reasoning_after_first_final_kept": row(
        SYSTEM, u("Hi"), a("Hello! How can I help?", reasoning="Greet back."),
        u("Where is ORD-5?"),
        a("", [call("c1", "lookup_order", {"order_id": "ORD-5"})], "Look it up first."),
        t("c1", ORDER), a("It arrives tomorrow.", reasoning="Summarise the status.")),
    "reasoning_kept_when_ending_in_call": row(
        SYSTEM, u("Where is ORD-6?"),
        a("", [call("c1", "lookup_order", {"order_id": "ORD-6"})], "I should look it up.")),
    "ends_with_tool_result": row(
        SYSTEM, u("Where is ORD-7?"),
        a("Let me check.", [call("c1", "lookup_order", {"order_id": "ORD-7"})], "Check it."),
        t("c1", ORDER)),
    "preamble_content": row(
        SYSTEM, u("Check ORD-8 please"),
        a("Sure, checking now.", [call("c1", "lookup_order", {"order_id": "ORD-8"})]),
        t("c1", ORDER), a("Delayed, arriving tomorrow.")),
    "schema_features": row(
        SYSTEM, u("red shoes under 50"),
        a("", [call("c1", "search_catalog",
                    {"query": "red shoes", "filters": {"price_max": 50, "brands": ["acme"]}})]),
        t("c1", '[{"sku": "A1", "price": 49.99}]'), a("Found one: A1 at 49.99."),
        tools=(SEARCH, WEATHER, NO_PARAMS, EMPTY_PARAMS)),
    "unicode": row(
        {"role": "system", "content": "Tu es un assistant multilingue. 日本語も話せます。"},
        u("Traduis « bonne journée » en japonais 🙏"),
        a("", [call("c1", "traduire", {"texte": "bonne journée", "langue": "日本語"})],
          "Utiliser l'outil."),
        t("c1", '{"résultat": "良い一日を"}'), a("« 良い一日を » ✨"), tools=(UNICODE_TOOL,)),
    "empty_and_none_content": row(
        SYSTEM, u(""), {"role": "assistant", "content": None, "tool_calls": [
            call("c1", "lookup_order", {"order_id": "ORD-9"})]},
        t("c1", ""), a("")),
    "special_token_text": row(
        SYSTEM, u("What does <|end|> mean?"), a("It ends a message: <|end|><|return|>")),
    "whitespace_edges": row(
        {"role": "system", "content": "  padded system  \n"}, u("\n\nleading newlines"),
        a("  spaced answer \n\n"), tools=()),
    "arguments_spacing": row(
        SYSTEM, u("ORD-10?"),
        a("", [call("c1", "lookup_order", '{ "order_id" : "ORD-10" }')]),
        t("c1", ORDER), a("Tomorrow.")),
}


@pytest.mark.parametrize("name", list(ROWS))
def test_rows_token_exact(name, enc, renderer):
    check(ROWS[name], enc, renderer)


def test_recipient_before_channel(enc, renderer):
    """The user-reported defect: the recipient belongs in the header before the channel."""
    text = enc.decode_utf8(check(ROWS["one_call"], enc, renderer))
    assert ('<|start|>assistant to=functions.lookup_order<|channel|>commentary <|constrain|>json'
            '<|message|>{"order_id": "ORD-1"}<|call|>') in text
    assert ("<|start|>functions.lookup_order to=assistant<|channel|>commentary<|message|>"
            + ORDER + "<|end|>") in text
    assert text.endswith("It arrives tomorrow.<|return|>")


def test_reasoning_rules(enc, renderer):
    dropped = enc.decode_utf8(check(ROWS["reasoning_dropped"], enc, renderer))
    assert "<|channel|>analysis" not in dropped
    kept = enc.decode_utf8(check(ROWS["reasoning_after_first_final_kept"], enc, renderer))
    assert "Greet back." not in kept
    assert "<|start|>assistant<|channel|>analysis<|message|>Look it up first.<|end|>" in kept
    assert "Summarise the status." in kept
    ending = enc.decode_utf8(check(ROWS["reasoning_kept_when_ending_in_call"], enc, renderer))
    assert "<|channel|>analysis<|message|>I should look it up.<|end|>" in ending


@pytest.mark.parametrize(("date", "effort"), [("2025-06-28", "high"), (None, "low")])
def test_system_constants(date, effort, enc, monkeypatch):
    monkeypatch.setattr(harmony_mod, "HARMONY_CURRENT_DATE", date)
    monkeypatch.setattr(harmony_mod, "HARMONY_REASONING_EFFORT", effort)
    r = HarmonyRenderer(load_tokenizer("o200k_harmony"))
    for name in ("one_call", "system_no_tools"):
        text = enc.decode_utf8(check(ROWS[name], enc, r))
        assert (f"Current date: {date}\n" in text) == (date is not None)
        assert f"Reasoning: {effort}\n" in text


def test_pipeline_rows(default_build_rows, enc, renderer):
    """Every row of the default build (`sdgflow run -c customer_support_tools`, offline
    simulator), as is and with reasoning on every assistant turn."""
    assert len(default_build_rows) > 200
    for r in default_build_rows:
        check(r, enc, renderer)
    for r in default_build_rows:
        r = copy.deepcopy(r)
        for k, m in enumerate(r["messages"]):
            if m["role"] == "assistant":
                m["reasoning_content"] = f"Step {k}: decide what to do next."
        check(r, enc, renderer)


def test_batch_matches_single(enc, renderer):
    """Several records through one process_lines call: the flat tokens are the records' ids
    back to back."""
    rows = list(ROWS.values())
    chunk = process_lines([orjson.dumps(r) for r in rows], renderer, True)
    want = [tok for r in rows for tok in enc.render_conversation_for_training(conversation(r))]
    assert chunk.tokens.tolist() == want
    assert int(chunk.total.sum()) == len(want)


# ----------------------------------------------------------------------------- fuzzed schemas

# Characters unassigned in Python 3.11's Unicode 14 tables are left out: ~4,700 of them (assigned
# since, e.g. U+2B73A) split differently in quicktok's pre-tokenizer and openai-harmony's, a
# vocabulary matter and not a rendering one.
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cn")), max_size=12) | \
    st.sampled_from(["a\nb", "x\r\ny", "q\"uote", "back\\slash", "tab\there", "end\n", "\r"])
# integers within 64 bits: a JSONL reader (orjson here) reads larger ones as floats, while the
# trainer's json.loads keeps them for serde_json to truncate: no renderer can see that text
_scalar = (st.none() | st.booleans() | st.integers(-(2 ** 63), 2 ** 64 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | _text)
_json = st.recursive(_scalar, lambda c: st.lists(c, max_size=3)
                     | st.dictionaries(_text, c, max_size=3), max_leaves=6)


def _schema(children):
    props = st.dictionaries(_text, children, max_size=4)
    return st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["object", "string", "number", "integer", "boolean", "array",
                                 "null", "weird"])
        | st.lists(st.sampled_from(["string", "integer", "null", "object"]), max_size=3),
        "description": _text,
        "title": _text,
        "enum": st.lists(_scalar, max_size=3),
        "default": _json,
        "nullable": st.booleans(),
        "examples": st.lists(_scalar, max_size=3),
        "items": children,
        "properties": props,
        "required": st.lists(_text, max_size=3),
        "oneOf": st.lists(children, max_size=3),
    })


# the trainers' conftest has a function-scoped autouse fixture (a clock for transformers) that
# these tests do not use
FUZZ_HEALTH = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
_schemas = st.recursive(st.fixed_dictionaries({}), _schema, max_leaves=8)


@settings(max_examples=300, deadline=None, suppress_health_check=FUZZ_HEALTH)
@given(params=st.none() | _schemas, description=_text,
       name=st.from_regex(r"[a-z_]{1,10}", fullmatch=True))
def test_fuzzed_tool_schemas(params, description, name, enc, renderer):
    r = row(u("hi"), a("ok"), tools=(fn(name, description, params),))
    check(r, enc, renderer)


_content = _text | st.sampled_from(["<|end|>", "<|start|>assistant", " to=x", "{\"a\": 1}", ""])


@st.composite
def _rows(draw):
    names = draw(st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,8}", fullmatch=True),
                          min_size=1, max_size=3, unique=True))
    tools = [fn(n, draw(_text), draw(st.none() | _schemas)) for n in names]
    msgs = [{"role": r, "content": draw(_content)}
            for r in draw(st.lists(st.sampled_from(["system", "developer"]), max_size=2))]
    ncall = 0
    for _ in range(draw(st.integers(1, 4))):
        msgs.append(u(draw(_content)))
        for _ in range(draw(st.integers(0, 2))):
            calls = [call(f"c{(ncall := ncall + 1)}", draw(st.sampled_from(names)),
                          draw(st.dictionaries(_text, _scalar, max_size=2)))
                     for _ in range(draw(st.integers(1, 3)))]
            msgs.append(a(draw(_content), calls, draw(st.none() | _content)))
            msgs += [t(c["id"], draw(_content), c["function"]["name"]) for c in calls]
        if draw(st.booleans()):
            msgs.append({"role": draw(st.sampled_from(["system", "developer"])),
                         "content": draw(_content)})
        if draw(st.booleans()):
            msgs.append(a(draw(_content), reasoning=draw(st.none() | _content)))
    return row(*msgs, tools=tools if draw(st.booleans()) else ())


@settings(max_examples=200, deadline=None, suppress_health_check=FUZZ_HEALTH)
@given(r=_rows())
def test_fuzzed_conversations(r, enc, renderer):
    check(r, enc, renderer)
