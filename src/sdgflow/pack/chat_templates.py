"""The chat templates sdgflow ships, by name, and what each vocabulary renders with by default.

The `.jinja` files under `templates/` are the models' own templates byte for byte, as TRL
1.16 stores them (`trl/chat_templates/`, Apache-2.0) for identity comparison with the models'
Hub repos; the `*-training` ones are TRL's patches that only add `{% generation %}` markers
(the templates `SFTTrainer(assistant_only_loss=True)` trains with). Licences of the templates
follow their models: Qwen2.5 and Qwen3 Apache-2.0, gpt-oss Apache-2.0, Llama 3.1 the Llama 3.1
Community License. `templates/README.md` lists each file's origin.
"""

from __future__ import annotations

from importlib.resources import files

# name -> file under templates/
SHIPPED = {
    "qwen3": "qwen3.jinja",
    "qwen3-training": "qwen3_training.jinja",
    "qwen2.5": "qwen2_5.jinja",
    "qwen2.5-training": "qwen2_5_training.jinja",
    "gpt-oss": "gptoss.jinja",
    "gpt-oss-training": "gptoss_training.jinja",
    "llama3.1": "llama3_1.jinja",
}
# other spellings of the same templates; `chatml` is ChatML with Hermes-style tool calls as
# Qwen2.5 writes it (the layout the built-in `chatml` renderer always meant)
ALIASES = {"chatml": "qwen2.5", "hermes": "qwen2.5", "qwen": "qwen2.5", "llama3": "llama3.1",
           "gptoss": "gpt-oss"}
# Renderers written in code (not Jinja), token-exact with their owner's library.
CODE_RENDERERS = ("harmony",)

# The template each bundled tokenizer renders with when `packing.chat_template` is unset: the
# model's own template, as its tokenizer_config.json ships it. gpt-oss renders with harmony
# (token-exact with openai-harmony, which trains gpt-oss); its Jinja template is `gpt-oss`.
DEFAULT_FOR_TOKENIZER = {
    "qwen3": "qwen3",
    "qwen2.5": "qwen2.5",
    "llama3": "llama3.1",
    "llama3.1": "llama3.1",
    "o200k_harmony": "harmony",
    "gpt-oss": "harmony",
}

# The special tokens each model's tokenizer hands its chat template (transformers passes
# `tokenizer.special_tokens_map` as template variables): from the models' tokenizer_config.json.
SPECIAL_TOKENS_MAP = {
    "qwen3": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "qwen2.5": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "llama3": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "o200k_harmony": {"bos_token": "<|startoftext|>", "eos_token": "<|return|>",
                      "pad_token": "<|endoftext|>"},
}


def known_names() -> list[str]:
    return sorted([*CODE_RENDERERS, *SHIPPED, *ALIASES])


def canonical(name: str) -> str | None:
    """The shipped or code template `name` stands for, or None when it is not a known name."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in SHIPPED or key in CODE_RENDERERS else None


def shipped_source(name: str) -> str:
    """The text of a shipped template (by canonical name)."""
    return files("sdgflow.pack").joinpath("templates", SHIPPED[name]).read_text(encoding="utf-8")
