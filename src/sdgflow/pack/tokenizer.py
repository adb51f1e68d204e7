"""Offline tokenizers: exact vocabularies bundled by quicktok-v1, or a local HF tokenizer.json.

Chat-template special tokens are never parsed out of text here: renderers emit them as ids
directly and everything else is tokenized as ordinary text. Special tokens always split the
pre-tokenizer, so this equals the tokenizer's own encode of the whole rendered text.

Licensing (from quicktok-v1's NOTICE): its code is MIT; the o200k vocabularies come from
tiktoken (MIT), the Qwen vocabulary is Apache-2.0, and the Llama 3 vocabulary is under the Meta
Llama 3 Community License, which applies when you use `llama3`.
"""

from __future__ import annotations

import json
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

    def encode_with_offsets(self, text: str) -> tuple[list[int], np.ndarray]:
        """`encode(text)` and the UTF-8 byte offset where each token starts (plus the end)."""
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
        self._byte_len: np.ndarray | None = None  # bytes of each token id, built on first use

    def encode_ordinary(self, text: str) -> list[int]:
        return self._enc.encode_ordinary(text)

    def encode_batch(self, texts, threads=1):
        if not texts:
            return np.zeros(0, np.uint32), np.zeros(1, np.int64)
        toks, offs = self._enc.encode_batch(texts, threads, False)
        return np.asarray(toks), np.asarray(offs, dtype=np.int64)

    def encode(self, text: str) -> list[int]:
        return self._enc.encode(text, allowed_special=self._allowed, disallowed_special=())

    def encode_with_offsets(self, text: str) -> tuple[list[int], np.ndarray]:
        ids = self.encode(text)
        if self._byte_len is None:
            top = self._enc.max_token_value + 1
            self._byte_len = np.fromiter(
                (len(self._enc.decode_single_token_bytes(i)) for i in range(top)), np.int64, top)
        offs = np.zeros(len(ids) + 1, np.int64)
        np.cumsum(self._byte_len[np.asarray(ids, np.int64)], out=offs[1:])
        return ids, offs

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
        # the model's own chat template and special tokens, when its tokenizer_config.json
        # sits beside the file (as in a downloaded model directory)
        self.chat_template: str | None = None
        self.special_tokens_map: dict[str, str] = {}
        cfg_path = Path(path).with_name("tokenizer_config.json")
        if cfg_path.is_file():
            cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
            if isinstance(cfg.get("chat_template"), str):
                self.chat_template = cfg["chat_template"]
            for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
                v = cfg.get(key)
                v = v.get("content") if isinstance(v, dict) else v
                if isinstance(v, str):
                    self.special_tokens_map[key] = v
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

    def encode_with_offsets(self, text: str) -> tuple[list[int], np.ndarray]:
        e = self._tok.encode(text, add_special_tokens=False)
        # HF offsets count characters; turn them into UTF-8 byte offsets
        char_to_byte = np.zeros(len(text) + 1, np.int64)
        np.cumsum([len(c.encode("utf-8")) for c in text], out=char_to_byte[1:])
        starts = [a for a, _ in e.offsets]
        offs = np.append(char_to_byte[np.asarray(starts, np.int64)], char_to_byte[-1])
        return e.ids, offs

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
