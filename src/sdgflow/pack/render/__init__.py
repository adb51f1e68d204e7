"""Chat rendering: a renderer per chat format, chosen by `make_renderer`."""

from __future__ import annotations

from pathlib import Path

from sdgflow.pack.render.base import Builder, Msg, Renderer, normalize
from sdgflow.pack.render.chatml import ChatMLRenderer
from sdgflow.pack.render.harmony import HarmonyRenderer
from sdgflow.pack.render.jinja import JinjaRenderer
from sdgflow.pack.render.llama3 import Llama3Renderer
from sdgflow.pack.tokenizer import Tokenizer

__all__ = ["Builder", "Msg", "Renderer", "make_renderer", "normalize"]

_RENDERERS = {"harmony": HarmonyRenderer, "chatml": ChatMLRenderer, "llama3": Llama3Renderer}


def make_renderer(tok: Tokenizer, chat_template: str | None) -> Renderer:
    """`harmony|chatml|llama3`, a Jinja template file path, or None (the tokenizer's family)."""
    name = chat_template or tok.family
    if name in _RENDERERS:
        return _RENDERERS[name](tok)
    if name in ("hermes", "qwen"):
        return ChatMLRenderer(tok)
    p = Path(name).expanduser()
    if p.is_file():
        return JinjaRenderer(tok, str(p))
    raise ValueError(
        f"unknown chat template {chat_template!r}: use harmony, chatml, llama3 or a path to a "
        "Jinja template file"
    )

