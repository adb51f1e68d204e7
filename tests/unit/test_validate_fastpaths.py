"""Validation's shortcuts answer exactly what the plain definitions they stand for answer."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from conversations import CONTEXT, clean_row

from sdgflow.validate.checks import (
    Conversation,
    content_invalid,
    hint_words,
    markdown,
    padded,
    stem,
    tokens,
)
from sdgflow.validate.config import ValidationConfig
from sdgflow.validate.run import SharedTools


def test_a_hint_inside_the_answer_shares_every_content_word() -> None:
    # ungrounded_policy passes a final answer holding padded(hint) without counting words.
    rng, inside = random.Random(0), 0
    vocab = ["orders", "delayed", "the", "refunds", "within", "30", "days", "of", "a", "is",
             "qualify", "qualifying", "2", "free", "shipping", "ships", "warehouse"]
    for _ in range(3000):
        hint = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 6)))
        final = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 12)))
        if padded(hint) in padded(final):
            inside += 1
            unique = hint_words(hint)[1]
            assert unique <= {stem(t) for t in tokens(final)}, (hint, final)
    assert inside > 100


def test_markdown_is_looked_for_in_text_contents_but_tool_results() -> None:
    # The triggers look at the joined texts but tool results; nulls and lists are left out.
    row = clean_row()
    row["messages"][5]["content"] = "| order | status |\n# Result\n- **delayed**\n```"
    assert markdown(Conversation(row, CONTEXT, 0, ValidationConfig(), None)) == []
    row["messages"][4]["content"] = None  # beside tool_calls
    row["messages"][6]["content"] = "Your order:\n  1) is delayed"
    problems = markdown(Conversation(row, CONTEXT, 0, ValidationConfig(), None))
    assert problems == ["messages[6] (assistant) contains markdown: a list line ('1) i')"]
    row["messages"][6]["content"] = ["- a list, not text"]
    assert markdown(Conversation(row, CONTEXT, 0, ValidationConfig(), None)) == []


@pytest.mark.parametrize(("index", "content", "calls", "problem"), [
    (4, "", True, None),
    (4, None, True, None),
    (4, " \n", False, "messages[4] is an assistant message with neither content nor tool_calls"),
    (0, "  ", False, "messages[0] (system) has empty content"),
    (1, None, False, "messages[1] (user) content is missing, not text"),
    (2, "", False, "messages[2] is an assistant message with neither content nor tool_calls"),
    (6, "", False, None),  # a blank final answer is final.not_assistant's
    (5, "", False, None),  # a tool result's content is format.tool_content_type's
])
def test_content_invalid_looks_at_blank_contents(index: int, content: str | None, calls: bool,
                                                 problem: str | None) -> None:
    row = clean_row()
    message = row["messages"][index]
    message["content"] = content
    if not calls:
        message.pop("tool_calls", None)
    problems = content_invalid(Conversation(row, CONTEXT, 0, ValidationConfig(), None))
    assert problems == ([problem] if problem else [])


_TOOLS = ('[{"type":"function","function":{"name":"lookup_order","parameters":{"type":"object",'
          '"properties":{"order_id":{"type":"string"}}}}}]')
_MESSAGES = '[{"role":"user","content":"hi, \\"tools\\": ],\\"tools\\":[1]"}]'
HEADS = [
    '{"messages":%M,"tools":%T,"a":1}',
    '{"messages":%M,"tools":%T,"a":2,"b":[3]}',  # the same tools, parsed once
    '{"messages":%M,"tools":%T}',  # tools last
    '{"messages":[{"x":[1],"tools":%T,"a":1}],"b":2}',  # nested tools before the next key
    '{"messages":[{"x":[1],"tools":%T}],"a":1}',  # no top-level tools at all
    '{"messages":%M,"tools":%T,"a":{"m":[1],"tools":%T,"a":1}}',  # nested ones after them
    '{"messages":%M,"tools":%T,"a":1,"tools":[],"a":2}',  # repeated keys: the last value wins
    '{"tools":[],"messages":%M,"tools":%T,"a":1}',
    '{"messages":%M,"tools":%T,"a":1}',
    '{"messages":%M,"tools":%T,}',  # no JSON
    '{"messages":%M,"tools":%T,"a":}',
    '{"messages":%M,"tools":%T ,"a":1}',  # not compact: parsed whole
    '{"messages":%M,"tools":[],"a":1}',  # too short to share
    '{"messages":%M,"tools":[1],"a":1}',
    '{"messages":%M,"tools":{"a":1},"a":1}',
    '{"messages":%M,"tools":%T,"a":1}',
]


def test_shared_tools_load_what_orjson_loads() -> None:
    shared, tools = SharedTools(), []
    for template in HEADS * 2:
        head = (template.replace("%M", _MESSAGES).replace("%T", _TOOLS) + "\n").encode()
        try:
            want = orjson.loads(head)
        except orjson.JSONDecodeError:
            with pytest.raises(orjson.JSONDecodeError):
                shared.load(head)
            continue
        row, text = shared.load(head)
        assert row == want and list(row) == list(want), head
        assert text is None or text == orjson.dumps(row["tools"]), head
        tools.append(row.get("tools"))
    assert tools[1] is tools[0]  # the second row with the same tools, after the same key
