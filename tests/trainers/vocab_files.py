"""Vocabulary files for the trainers' own code, written from the bundled quicktok ranks.

openai-harmony reads `$TIKTOKEN_ENCODINGS_BASE/o200k_base.tiktoken` (and checks a pinned
SHA-256); transformers' TikTokenConverter reads the same format. Writing them from the ranks
the packer tokenizes with means the trainers' code and ours see one vocabulary, offline.
"""

from __future__ import annotations

import base64
from pathlib import Path

import quicktok


def write_tiktoken(encoding: str, path: Path) -> Path:
    """`<base64 token bytes> <rank>` per line, the tiktoken file format, for `encoding`'s
    base vocabulary (no special tokens)."""
    enc = quicktok.get_encoding(encoding)
    # token_byte_values() is sorted by bytes, not by rank: ask for each rank's bytes instead
    n = len(enc.token_byte_values())
    lines = [
        base64.b64encode(enc.decode_single_token_bytes(rank)).decode() + f" {rank}\n"
        for rank in range(n)
    ]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return path
