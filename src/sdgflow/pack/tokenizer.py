"""Offline tokenizers: exact vocabularies bundled by quicktok-v1, or a local HF tokenizer.json.

Chat-template special tokens are never parsed out of text here: renderers emit them as ids
directly and everything else is tokenized as ordinary text. Special tokens always split the
pre-tokenizer, so this equals the tokenizer's own encode of the whole rendered text.

Licensing (from quicktok-v1's NOTICE): its code is MIT; the o200k vocabularies come from
tiktoken (MIT), the Qwen vocabulary is Apache-2.0, and the Llama 3 vocabulary is under the Meta
Llama 3 Community License, which applies when you use `llama3`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

# bundled name -> (quicktok encoding, chat family)
_BUNDLED = {
    "o200k_harmony": ("o200k_harmony", "harmony"),
    "gpt-oss": ("o200k_harmony", "harmony"),
    "llama3": ("llama3", "llama3"),
    "llama3.1": ("llama3", "llama3"),
    "qwen2.5": ("qwen3", "chatml"),
    "qwen3": ("qwen3", "chatml"),
}
# specials that exist in the Qwen3 vocab but are ordinary text for Qwen2.5
_QWEN3_ONLY = {"<tool_response>", "</tool_response>", "<think>", "</think>"}


class Tokenizer:
    """Minimal tokenizer interface the packer needs."""

    name: str
    family: str  # harmony | chatml | llama3
    specials: dict[str, int]

    def encode_ordinary(self, text: str) -> list[int]:
        raise NotImplementedError

    def encode_batch(self, texts: list[str], threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(flat uint32 tokens, int64 offsets of len(texts)+1), specials treated as text."""
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        """Reference encode of fully rendered text: special-token strings become their ids."""
        raise NotImplementedError

    def decode(self, ids: list[int]) -> str:
        raise NotImplementedError


class QuicktokTokenizer(Tokenizer):
    def __init__(self, name: str):
        import quicktok

        enc_name, family = _BUNDLED[name]
        self.name = name
        self.family = family
        self._enc = quicktok.get_encoding(enc_name)
        specials = {s: self._enc.encode_single_token(s) for s in self._enc.special_tokens_set}
        if name == "qwen2.5":
            for s in _QWEN3_ONLY:
                specials.pop(s, None)
        self.specials = specials
        self._allowed = set(specials)

    def encode_ordinary(self, text: str) -> list[int]:
        return self._enc.encode_ordinary(text)

    def encode_batch(self, texts, threads=1):
        if not texts:
            return np.zeros(0, np.uint32), np.zeros(1, np.int64)
        toks, offs = self._enc.encode_batch(texts, threads, False)
        return np.asarray(toks), np.asarray(offs, dtype=np.int64)

    def encode(self, text: str) -> list[int]:
        return self._enc.encode(text, allowed_special=self._allowed, disallowed_special=())

    def decode(self, ids) -> str:
        return self._enc.decode(list(ids))


class HFTokenizer(Tokenizer):
    """A local Hugging Face `tokenizer.json` (needs the optional `tokenizers` package)."""

    def __init__(self, path: str):
        try:
            import tokenizers
        except ImportError as e:  # pragma: no cover - depends on the optional extra
            raise ValueError(
                f"tokenizer path {path!r} needs the HF `tokenizers` package: "
                "pip install 'sdgflow[hf]'"
            ) from e
        self._tok = tokenizers.Tokenizer.from_file(str(path))
        self.name = str(path)
        self.specials = {
            t.content: i for i, t in self._tok.get_added_tokens_decoder().items()
        }
        if "<|channel|>" in self.specials:
            self.family = "harmony"
        elif "<|start_header_id|>" in self.specials:
            self.family = "llama3"
        else:
            self.family = "chatml"

    def encode_ordinary(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts, threads=1):
        encs = self._tok.encode_batch(list(texts), add_special_tokens=False)
        lens = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
        offs = np.zeros(len(encs) + 1, np.int64)
        np.cumsum(lens, out=offs[1:])
        flat = np.fromiter(
            (i for e in encs for i in e.ids), dtype=np.uint32, count=int(offs[-1])
        )
        return flat, offs

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)


@lru_cache(maxsize=8)
def load_tokenizer(name_or_path: str) -> Tokenizer:
    """A bundled name (`o200k_harmony`, `llama3`, `qwen2.5`, `qwen3`) or a tokenizer.json path."""
    key = name_or_path.strip()
    if key.lower() in _BUNDLED:
        return QuicktokTokenizer(key.lower())
    p = Path(key).expanduser()
    if p.is_dir():
        p = p / "tokenizer.json"
    if p.is_file():
        return HFTokenizer(str(p))
    raise ValueError(
        f"unknown tokenizer {name_or_path!r}: use one of "
        f"{', '.join(sorted(_BUNDLED))} or a path to a tokenizer.json"
    )
