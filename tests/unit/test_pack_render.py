# ruff: noqa: E501  (a verbatim chat template below)
"""Rendering + tokenization: exact token counts, assistant loss tokens, structural problems."""

from __future__ import annotations

import copy
import re

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdgflow.pack.config import PackingConfig, default_tokenizer_for_model
from sdgflow.pack.render import make_renderer
from sdgflow.pack.render.jinja import template_messages
from sdgflow.pack.tokenizer import load_tokenizer

TOOLS = [
    {"type": "function", "function": {
        "name": "lookup_order", "description": "Look up an order by ID.",
        "parameters": {"type": "object", "properties": {
            "order_id": {"type": "string", "description": "Order id"}}, "required": ["order_id"]}}},
    {"type": "function", "function": {
        "name": "check_refund_eligibility", "description": "Check refund eligibility.",
        "parameters": {"type": "object", "properties": {
            "order_id": {"type": "string"}, "reason": {"type": "string"},
            "express": {"type": "boolean", "default": False}},
            "required": ["order_id", "reason"]}}},
]


def convo(**over) -> dict:
    rec = {
        "messages": [
            {"role": "system", "content": "You are a helpful support agent."},
            {"role": "user", "content": "Hi, my package is late. Order ORD-10492?"},
            {"role": "assistant", "content": "Sorry to hear that! Can you confirm the email?"},
            {"role": "user", "content": "sure: ana@example.com\n\nthanks"},
            {"role": "assistant", "content": "", "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "lookup_order", "arguments": '{"order_id": "ORD-10492"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "name": "lookup_order",
             "content": '{"status": "delayed", "eta": "tomorrow"}'},
            {"role": "assistant", "content": "Your order ORD-10492 is delayed and arrives "
             "tomorrow. Per policy you get a shipping credit."},
        ],
        "tools": TOOLS,
    }
    rec.update(over)
    return rec


TOKENIZERS = ["o200k_harmony", "qwen2.5", "qwen3", "llama3"]
ASSISTANT_SPANS = {
    # the recipient (` to=functions.NAME`) comes before the channel, as openai-harmony writes it
    "harmony": r"<\|start\|>assistant((?: to=[^<]*)?<\|channel\|>.*?(?:<\|end\|>|<\|call\|>"
               r"|<\|return\|>))",
    # the official templates' turn ends; Qwen's trainable span runs through the newline
    "chatml": r"<\|im_start\|>assistant\n(.*?<\|im_end\|>\n)",
    "llama3": r"<\|start_header_id\|>assistant<\|end_header_id\|>\n\n(.*?<\|eot_id\|>)",
}


def rendered(tok_name: str, rec: dict):
    tok = load_tokenizer(tok_name)
    b = make_renderer(tok, None).render(rec)
    n = b.ctotal + sum(len(tok.encode_ordinary(t)) for t in b.texts)
    loss = b.closs + sum(
        len(tok.encode_ordinary(t)) for t, f in zip(b.texts, b.text_flags, strict=True) if f)
    return tok, b, n, loss


def test_known_token_ids():
    assert load_tokenizer("o200k_harmony").encode_ordinary("hello world") == [24912, 2375]
    assert load_tokenizer("llama3").encode_ordinary("hello world") == [15339, 1917]
    assert load_tokenizer("qwen2.5").encode_ordinary("hello world") == [14990, 1879]
    h = load_tokenizer("o200k_harmony").specials
    assert (h["<|start|>"], h["<|message|>"], h["<|end|>"], h["<|call|>"]) == (
        200006, 200008, 200007, 200012)
    assert load_tokenizer("qwen3").specials["<|im_start|>"] == 151644
    assert load_tokenizer("llama3").specials["<|eot_id|>"] == 128009
    assert "<tool_response>" not in load_tokenizer("qwen2.5").specials
    assert "<tool_response>" in load_tokenizer("qwen3").specials


def test_default_tokenizer_for_model():
    assert default_tokenizer_for_model("openai/gpt-oss-20b") == "o200k_harmony"
    assert default_tokenizer_for_model("meta-llama/Llama-3.1-8B-Instruct") == "llama3"
    assert default_tokenizer_for_model("Qwen/Qwen2.5-7B-Instruct") == "qwen2.5"
    assert default_tokenizer_for_model("Qwen/Qwen3-8B") == "qwen3"
    assert default_tokenizer_for_model("google/gemma-4-31B-it") == "o200k_harmony"
    with pytest.raises(ValueError):
        PackingConfig(pack_size=0)
    with pytest.raises(ValueError):
        PackingConfig(bogus=1)


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_counts_equal_full_encode_and_loss_equals_assistant_segments(tok_name):
    tok, b, n, loss = rendered(tok_name, convo())
    text = b.text
    assert n == len(tok.encode(text))
    spans = re.findall(ASSISTANT_SPANS[tok.family], text, flags=re.S)
    assert len(spans) == 3
    assert loss == sum(len(tok.encode(s)) for s in spans)
    assert not b.problems


def test_harmony_layout():
    _, b, _, _ = rendered("o200k_harmony", convo())
    t = b.text
    assert "namespace functions {\n\n// Look up an order by ID.\ntype lookup_order = (_: {\n" \
           "// Order id\norder_id: string,\n}) => any;" in t
    assert "express?: boolean, // default: false" in t
    assert ("<|start|>assistant to=functions.lookup_order<|channel|>commentary <|constrain|>json"
            '<|message|>{"order_id": "ORD-10492"}<|call|>') in t
    assert ("<|start|>functions.lookup_order to=assistant<|channel|>commentary<|message|>"
            '{"status": "delayed", "eta": "tomorrow"}<|end|>') in t
    assert t.endswith("shipping credit.<|return|>")
    assert "<|start|>developer<|message|># Instructions\n\nYou are a helpful support agent.\n\n" \
           "# Tools\n\n## functions\n\nnamespace functions {" in t
    assert "Current date" not in t  # openai-harmony's SystemContent default


def test_chatml_and_llama_layout():
    """The models' own templates: Qwen2.5's `| tojson` encodes a string `arguments` again
    (the packing report warns), Qwen3's writes it as it is."""
    _, b, _, _ = rendered("qwen2.5", convo())
    t = b.text
    assert '<tools>\n{"type": "function", "function": {"name": "lookup_order"' in t
    assert ('<|im_start|>assistant\n<tool_call>\n{"name": "lookup_order", "arguments": '
            '"{\\"order_id\\": \\"ORD-10492\\"}"}\n</tool_call><|im_end|>') in t
    _, b, _, _ = rendered("qwen3", convo())
    assert ('<|im_start|>assistant\n<tool_call>\n{"name": "lookup_order", "arguments": '
            '{"order_id": "ORD-10492"}}\n</tool_call><|im_end|>') in b.text
    assert ('<|im_start|>user\n<tool_response>\n{"status": "delayed", "eta": "tomorrow"}\n'
            "</tool_response><|im_end|>") in t
    _, b, _, _ = rendered("llama3", convo())
    t = b.text
    assert t.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                        "Environment: ipython\n")
    assert ('<|start_header_id|>assistant<|end_header_id|>\n\n{"name": "lookup_order", '
            '"parameters": "{\\"order_id\\": \\"ORD-10492\\"}"}<|eot_id|>') in t
    # Llama 3.1's template `| tojson`s tool content (a string is iterable in Jinja)
    assert '<|start_header_id|>ipython<|end_header_id|>\n\n"{\\"status\\"' in t


QWEN25_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""


def test_jinja_template_matches_builtin_chatml(tmp_path):
    path = tmp_path / "qwen25.jinja"
    path.write_text(QWEN25_TEMPLATE)
    tok = load_tokenizer("qwen2.5")
    builtin = make_renderer(tok, "chatml").render(convo())
    jr = make_renderer(tok, str(path))
    assert jr.name == "jinja"
    b = jr.render(convo())
    assert b.text == builtin.text  # `chatml` is Qwen2.5's own template
    n = b.ctotal + sum(len(tok.encode_ordinary(t)) for t in b.texts)
    assert n == len(tok.encode(b.text))
    loss = b.closs + sum(len(tok.encode_ordinary(t))
                         for t, f in zip(b.texts, b.text_flags, strict=True) if f)
    spans = re.findall(ASSISTANT_SPANS["chatml"], b.text, flags=re.S)
    # prefix rendering marks each assistant turn through its trailing newline
    assert loss == sum(len(tok.encode(s)) for s in spans)


def _codes(tok_name, rec):
    return {c for c, _ in make_renderer(load_tokenizer(tok_name), None).render(rec).problems}


@pytest.mark.parametrize("tok_name", ["o200k_harmony", "qwen2.5", "llama3"])
def test_structural_problems(tok_name):
    rec = convo()
    rec["messages"][1]["role"] = "customer"
    assert "unknown_role" in _codes(tok_name, rec)

    rec = convo()
    del rec["messages"][4]  # tool result without the call
    assert "tool_without_call" in _codes(tok_name, rec)

    rec = convo()
    rec["messages"][5]["tool_call_id"] = "call_999"
    assert "tool_without_call" in _codes(tok_name, rec)

    rec = convo()
    rec["messages"][4]["tool_calls"][0]["function"]["arguments"] = ["ORD-1"]
    assert "non_string_arguments" in _codes(tok_name, rec)

    rec = convo()  # an object is the `arguments_format: object` layout, not a problem
    rec["messages"][4]["tool_calls"][0]["function"]["arguments"] = {"order_id": "ORD-1"}
    assert "non_string_arguments" not in _codes(tok_name, rec)

    rec = convo()
    rec["messages"][4]["tool_calls"][0]["function"]["arguments"] = '{"order_id": '
    assert "invalid_arguments_json" in _codes(tok_name, rec)

    rec = convo()
    rec["messages"][5]["content"] = {"status": "delayed"}
    assert "non_string_tool_content" in _codes(tok_name, rec)

    rec = convo()
    rec["messages"][1]["content"] = "ignore <|im_end|> this"
    assert "special_token_in_content" in _codes(tok_name, rec)

    assert "missing_messages" in _codes(tok_name, {"tools": TOOLS})
    assert "no_assistant_turn" in _codes(tok_name, {"messages": [{"role": "user",
                                                                   "content": "hi"}]})


# text that stresses pre-tokenizer boundaries: leading/trailing whitespace, newlines, '/',
# punctuation runs, digits, contractions, non-ASCII, combining marks
_pieces = st.sampled_from([" ", "\n", "\n\n", "\t", "/", "//", "'s", ".", "!!", "{", "}", "1234",
                           "hello", "World", "é", "e\u0301", "日本語", "🚀", "ORD-10492", "\r\n",
                           '"', "  x", "</tool_response>", "<tools>"])
_text = st.lists(_pieces, max_size=12).map("".join)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contents=st.lists(_text, min_size=7, max_size=7), with_system=st.booleans(),
       with_tools=st.booleans())
def test_piecewise_tokenization_is_exact(contents, with_system, with_tools):
    rec = convo()
    if not with_tools:
        rec["tools"] = []
    for m, c in zip(rec["messages"], contents, strict=True):
        if m["role"] == "tool" or not m.get("tool_calls"):
            m["content"] = c
    if not with_system:
        rec["messages"] = rec["messages"][1:]
    for tok_name in TOKENIZERS:
        tok, b, n, _ = rendered(tok_name, copy.deepcopy(rec))
        if any(c == "special_token_in_content" for c, _ in b.problems):
            continue  # flagged: a naive encode would turn that text into a control token
        assert n == len(tok.encode(b.text)), (tok_name, b.text)


def test_hf_tokenizer_json(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers

    vocab = {"<unk>": 0, "<|im_start|>": 1, "<|im_end|>": 2}
    for ch in sorted(set(orjson.dumps(convo()).decode() + "\n<>/|_")):
        vocab.setdefault(ch, len(vocab))
    t = tokenizers.Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    t.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    t.add_special_tokens(["<|im_start|>", "<|im_end|>"])
    path = tmp_path / "tokenizer.json"
    t.save(str(path))
    tok = load_tokenizer(str(path))
    assert tok.family == "chatml"
    r = make_renderer(tok, None)
    b = r.render(convo())
    rec = convo()
    text = r.render_text(template_messages(rec["messages"]), rec["tools"], False)
    assert b.ctotal == len(tok.encode(text))  # (this toy vocabulary's decode adds spaces)
