"""Chat rendering: a renderer per chat format, chosen by `make_renderer`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sdgflow.pack import chat_templates
from sdgflow.pack.render.base import Builder, Msg, Renderer, normalize
from sdgflow.pack.render.harmony import HarmonyRenderer
from sdgflow.pack.render.jinja import JinjaRenderer
from sdgflow.pack.tokenizer import HFTokenizer, Tokenizer

__all__ = ["Builder", "Msg", "Renderer", "make_renderer", "normalize", "template_name"]

_FAMILY_DEFAULT = {"harmony": "harmony", "llama3": "llama3.1", "chatml": "qwen2.5"}


def template_name(tok: Tokenizer, chat_template: str | None) -> str:
    """What `chat_template` (None: the tokenizer's own) stands for: a canonical shipped or
    code name, `tokenizer_config.json` for a local tokenizer's own template, or a file path."""
    if chat_template:
        return chat_templates.canonical(chat_template) or chat_template
    if isinstance(tok, HFTokenizer) and tok.chat_template:
        return "tokenizer_config.json"
    return chat_templates.DEFAULT_FOR_TOKENIZER.get(tok.name) or _FAMILY_DEFAULT[tok.family]


def make_renderer(tok: Tokenizer, chat_template: str | None, *, loss_on: str = "all_assistant",
                  template_kwargs: dict[str, Any] | None = None,
                  today: date = date(2025, 6, 28)) -> Renderer:
    """A renderer for `chat_template`: a shipped name (see `chat_templates.known_names()`),
    `harmony`, a path to a Jinja file, or None for the tokenizer's own template."""
    name = template_name(tok, chat_template)
    if name == "harmony":
        return HarmonyRenderer(tok, loss_on=loss_on)
    if name in chat_templates.SHIPPED:
        source = chat_templates.shipped_source(name)
    elif name == "tokenizer_config.json":
        source = tok.chat_template  # type: ignore[attr-defined]
    else:
        p = Path(name).expanduser()
        if not p.is_file():
            raise ValueError(
                f"unknown chat template {chat_template!r}: use one of "
                f"{', '.join(chat_templates.known_names())} or a path to a Jinja template file"
            )
        source = p.read_text(encoding="utf-8")
    return JinjaRenderer(tok, source, name, loss_on=loss_on, template_kwargs=template_kwargs,
                         today=today, special_tokens=special_tokens(tok))


def special_tokens(tok: Tokenizer) -> dict[str, str]:
    """The special-token variables the tokenizer hands a template, as transformers does."""
    if isinstance(tok, HFTokenizer):
        return tok.special_tokens_map
    vocab = {"llama3.1": "llama3", "gpt-oss": "o200k_harmony"}.get(tok.name, tok.name)
    return dict(chat_templates.SPECIAL_TOKENS_MAP.get(vocab, {}))
