"""The transformers tokenizers rebuilt from the bundled ranks tokenize exactly as quicktok does.

Everything the trainer tests compare (token ids, assistant masks) rests on this: if the HF
tokenizer and the packer's tokenizer split one text differently, a mismatch there would be the
tokenizers', not the renderer's.
"""

from __future__ import annotations

import unicodedata

import pytest

pytest.importorskip("transformers")

from hypothesis import given, settings
from hypothesis import strategies as st

from sdgflow.pack.tokenizer import load_tokenizer
from tests.trainers.hf_tokenizers import hf_tokenizer

NAMES = ["qwen3", "qwen2.5", "llama3", "o200k_harmony"]
NFC = {"qwen3", "qwen2.5"}  # Qwen's tokenizer.json normalizes to NFC before splitting

CORPUS = [
    "The quick brown fox jumps over the lazy dog. It's 5 o'clock; we'll see.",
    "I'M SURE THEY'RE HERE, AREN'T THEY? You'Ll SEE: I'd've, 'S 'T 'Re",
    "def f(x):\n    if x:\n\t\treturn [i ** 2 for i in range(10)]\n    return None\n",
    '{"a": {"b": "say \\"hi\\"", "c": [1, 2.5, null]}, "d": "\\u00e9\\n"}',
    "1234567 3.14159 -0.000001 1e10 ٣٤٥ ½ Ⅻ 12,345,678.90",
    "a\n\nb\n\n\n\nc   d      e\t\t\tf \r\n g\r\r\n  \n  \n",
    "    leading and trailing    ",
    "\n\n\n",
    "中文分词测试，你好世界！日本語のテキスト。한국어 텍스트입니다.",
    "emoji 😀👍🏽👨‍👩‍👧‍👦 🇫🇷 ✨ and ZWJ\u200dhere",
    "cafe\u0301 vs café, A\u030a vs Å, \u1e9b\u0323, n\u0303o, Hangul \u1100\u1161\u11a8",
    "Ελληνικά, русский текст, עברית, العربية, हिन्दी",
    "mixed CamelCaseWords and snake_case_names and URLs https://x.org/a/b?c=d&e=f",
    "literal <|im_end|> and <|im_start|>user and <|start|>assistant<|channel|>final",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    "<think>\nreasoning\n</think>\n\n<tool_call>\n{}\n</tool_call><tool_response>ok</tool_response>",
    "<|endoftext|><|endoftext|>x<|return|><|call|><|endofprompt|>",
    "almost specials: <|im_end| <im_end|> <| im_end |> <|IM_END|> <|reserved_99|>",
    "",
    " ",
    "'s",
    "\u00a0non-breaking\u2003em-space\u3000ideographic",
]


def _expected_text(name: str, text: str) -> str:
    return unicodedata.normalize("NFC", text) if name in NFC else text


def _check(name: str, text: str) -> None:
    hf, ours = hf_tokenizer(name), load_tokenizer(name)
    # ours.encode is quicktok's encode with every special of that model allowed (Qwen2.5: not
    # the four Qwen3-only strings), the same call the packer's reference encode makes
    ids = ours.encode(text)
    assert hf.encode(text, add_special_tokens=False) == ids
    assert hf.decode(ids, skip_special_tokens=False) == _expected_text(name, text)
    assert ours.decode(ids) == _expected_text(name, text)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("text", CORPUS)
def test_encode_equals_quicktok(name, text):
    _check(name, text)


@pytest.mark.parametrize("name", NAMES)
def test_added_tokens_have_the_models_ids(name):
    hf, ours = hf_tokenizer(name), load_tokenizer(name)
    added = hf.get_added_vocab()
    # quicktok's specials less the duplicate name of 200018 in o200k_harmony
    expected = {s: i for s, i in ours.specials.items() if s != "<|reserved_200018|>"}
    assert added == expected
    for s, i in expected.items():
        assert hf.encode(s, add_special_tokens=False) == ours.encode(s) == [i]
    # glued to words and to each other, each is still one token. Not all 1090 of gpt-oss's in
    # one text: quicktok's o200k_harmony encode is quadratic in special-token occurrences
    # (1000 in one text: ~6 s), which this test is not about
    order = sorted(expected, key=expected.get)
    some = order[:40] + order[-10:]
    text = "x".join(some) + "".join(some) + " y".join(some)
    assert hf.encode(text, add_special_tokens=False) == ours.encode(text)


def test_qwen25_treats_qwen3_only_tokens_as_text():
    text = "<think>a</think><tool_response>b</tool_response>"
    ids = hf_tokenizer("qwen2.5").encode(text, add_special_tokens=False)
    assert len(ids) > 8 and max(ids) < 151643
    assert ids == load_tokenizer("qwen2.5").encode_ordinary(text)
    assert hf_tokenizer("qwen3").encode(text, add_special_tokens=False)[0] == 151667


@pytest.mark.parametrize(
    "name,bos,eos,pad",
    [
        ("qwen3", None, "<|im_end|>", "<|endoftext|>"),
        ("qwen2.5", None, "<|im_end|>", "<|endoftext|>"),
        ("llama3", "<|begin_of_text|>", "<|eot_id|>", None),
        ("o200k_harmony", "<|startoftext|>", "<|return|>", "<|endoftext|>"),
    ],
)
def test_named_tokens(name, bos, eos, pad):
    hf = hf_tokenizer(name)
    assert (hf.bos_token, hf.eos_token, hf.pad_token) == (bos, eos, pad)
    # only Llama 3's tokenizer.json puts bos in front of a plain encode
    plain = hf.encode("hi", add_special_tokens=False)
    assert hf.encode("hi") == ([128000] if name == "llama3" else []) + plain
    # Qwen's tool/think/fim tokens are added but not special: they survive skip_special_tokens
    if name == "qwen3":
        ids = hf.encode("<|im_start|><tool_call><think>", add_special_tokens=False)
        assert hf.decode(ids, skip_special_tokens=True) == "<tool_call><think>"


# random text, and random text with the pieces tokenizers disagree on mixed in
_PIECES = [
    "<|im_end|>", "<|im_start|>", "<think>", "</tool_response>", "<|eot_id|>",
    "<|begin_of_text|>", "<|start|>", "<|channel|>", "<|return|>", "'s", "'LL", "\r\n",
    "\n\n", "   ", "\t", "e\u0301", "\u0301", "123456", "é", "😀", "中", " ", "/", "\u00a0",
]
_TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.text(max_size=12), st.sampled_from(_PIECES)), max_size=30).map("".join),
)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=200, deadline=None)
@given(text=_TEXT)
def test_random_text_equals_quicktok(name, text):
    _check(name, text)
