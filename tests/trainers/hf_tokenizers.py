"""transformers tokenizers for the bundled vocabularies, built offline by transformers' own code.

Tests that compare our chat rendering with `tokenizer.apply_chat_template(...)` need a real
`PreTrainedTokenizerFast` (in transformers 5 an alias of `TokenizersBackend`), and the HF Hub
is out of reach. So each model's tokenizer is rebuilt the way the owners build it: the bundled
ranks are written as a tiktoken file and converted by transformers' `TikTokenConverter`, with
the model's own pre-tokenizer regex, normalizer and added tokens, ids and flags taken from the
published tokenizer.json / tokenizer_config.json of each model:

- qwen3 / qwen2.5: the pattern and NFC normalizer of transformers' `Qwen2Converter` (digits
  one at a time); ids 151643-151656 special, `<tool_call>` onwards added but not special;
  eos `<|im_end|>`, pad `<|endoftext|>`, no bos. Qwen2.5 stops at `<|file_sep|>` (151664):
  `<tool_response>`, `</tool_response>`, `<think>`, `</think>` are plain text there.
- llama3: the cl100k pattern (Meta-Llama-3's tokenizer.json, the converter's default), no
  normalizer, 256 specials; bos `<|begin_of_text|>` put in front by the post-processor as in
  tokenizer.json, eos `<|eot_id|>` (the Instruct models'). Names are quicktok's, which are Llama
  3.0's: Llama 3.1 renamed 128004/128008/128010 to `<|finetune_right_pad_id|>`, `<|eom_id|>`,
  `<|python_tag|>`; the ids are the same.
- o200k_harmony (gpt-oss): tiktoken's o200k pattern, specials 199998-201087 all special;
  bos `<|startoftext|>`, eos `<|return|>`, pad `<|endoftext|>`. quicktok also names 200018
  `<|reserved_200018|>`; an HF vocabulary has one name per id and gpt-oss's is `<|endofprompt|>`.
"""

from __future__ import annotations

import base64
import tempfile
from functools import cache
from pathlib import Path
from typing import NamedTuple

import quicktok
from tokenizers import AddedToken, normalizers
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast
from transformers.convert_slow_tokenizer import TikTokenConverter

from tests.trainers.vocab_files import write_tiktoken

# Qwen2/2.5/3 tokenizer.json, = transformers' Qwen2Converter: digits one at a time
QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# Meta-Llama-3 tokenizer.json, = tiktoken's cl100k_base (Meta's llama3 repo writes it
# double-escaped in a raw string, which the HF conversion does not copy)
CL100K_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# tiktoken's o200k_base, which o200k_harmony (gpt-oss) keeps
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"""
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"""
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


class _Model(NamedTuple):
    encoding: str  # quicktok's
    pattern: str  # the pre-tokenizer's Split regex
    nfc: bool  # NFC normalizer before splitting
    last_id: int  # the tokenizer's last added token
    first_plain: int | None  # the first added token that is not special
    named: dict  # bos/eos/pad as the model's tokenizer_config.json sets them


_QWEN_NAMED = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
_MODELS = {
    "qwen3": _Model("qwen3", QWEN2_PATTERN, True, 151668, 151657, _QWEN_NAMED),
    "qwen2.5": _Model("qwen3", QWEN2_PATTERN, True, 151664, 151657, _QWEN_NAMED),
    "llama3": _Model(
        "llama3", CL100K_PATTERN, False, 128255, None,
        {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "add_bos_token": True},
    ),
    "o200k_harmony": _Model(
        "o200k_harmony", O200K_PATTERN, False, 201087, None,
        {"bos_token": "<|startoftext|>", "eos_token": "<|return|>", "pad_token": "<|endoftext|>"},
    ),
}


class _RankFileConverter(TikTokenConverter):
    """TikTokenConverter reads the rank file with tiktoken's loader, and tiktoken is not a
    dependency: read the same `<base64> <rank>` lines here, and keep the rest of the owner's
    conversion (merges from ranks, Split + ByteLevel pre-tokenizer, ByteLevel decoder)."""

    @staticmethod
    def load_tiktoken_bpe(tiktoken_url: str) -> dict[bytes, int]:
        ranks = {}
        for line in Path(tiktoken_url).read_bytes().splitlines():
            if line:
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
        return ranks


def _added_tokens(encoding: str, last_id: int) -> list[str]:
    """quicktok's special tokens up to `last_id`, in id order, one name per id: a named token
    before a reserved one, so 200018 is `<|endofprompt|>` as in gpt-oss's tokenizer.json."""
    enc = quicktok.get_encoding(encoding)
    by_id: dict[int, str] = {}
    for s in sorted(enc.special_tokens_set, key=lambda s: s.startswith("<|reserved_")):
        by_id.setdefault(enc.encode_single_token(s), s)
    return [by_id[i] for i in sorted(by_id) if i <= last_id]


@cache
def hf_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """The transformers tokenizer of bundled vocabulary `name` (qwen3, qwen2.5, llama3,
    o200k_harmony); built once per process (a few seconds each)."""
    encoding, pattern, nfc, last_id, first_plain, named = _MODELS[name]
    added = _added_tokens(encoding, last_id)
    first_id = last_id + 1 - len(added)
    n_special = len(added) if first_plain is None else first_plain - first_id
    # a private directory per build: parallel test workers never read a half-written file
    with tempfile.TemporaryDirectory(prefix=f"sdgflow-hf-{name}-") as tmp:
        ranks = write_tiktoken(encoding, Path(tmp) / f"{encoding}.tiktoken")
        backend = _RankFileConverter(
            str(ranks), pattern=pattern, extra_special_tokens=added[:n_special]
        ).converted()
    if nfc:
        backend.normalizer = normalizers.NFC()
    # Qwen's tool/fim/think tokens: added (matched in text, never split) but not special
    backend.add_tokens([AddedToken(t, normalized=False, special=False) for t in added[n_special:]])
    # the converter numbers added tokens from the end of the ranks: they must land on the ids
    # the model uses, which are contiguous from there for all four vocabularies
    assert backend.get_vocab_size() == last_id + 1
    assert [backend.token_to_id(t) for t in added] == list(range(first_id, last_id + 1))
    return PreTrainedTokenizerFast(tokenizer_object=backend, name_or_path=name, **named)
