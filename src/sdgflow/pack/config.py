"""Configuration of the packing dry-run stage (`packing:` in the recipe)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# here, not in packer.py, so loading a recipe does not import numpy
DEFAULT_ALGORITHM = "histogram_exact_fit"
BUNDLED_TOKENIZERS = ("o200k_harmony", "llama3", "qwen2.5", "qwen3")


class PackingConfig(BaseModel):
    """How the validated JSONL is rendered, tokenized and packed.

    `tokenizer`: a bundled name (`o200k_harmony`, `llama3`, `qwen2.5`, `qwen3`) or a path to
    a Hugging Face `tokenizer.json`; None follows the recipe's model.
    `chat_template`: a shipped template (`qwen3`, `qwen3-training`, `qwen2.5` = `chatml`,
    `qwen2.5-training`, `gpt-oss`, `gpt-oss-training`, `llama3.1`), `harmony` (openai-harmony's
    training render), or a path to a Jinja file; None: the tokenizer's model's own template.
    Jinja templates render exactly as transformers' `apply_chat_template`.
    `loss_on`: `all_assistant` (every assistant turn trains, tool calls and end-of-turn tokens
    included) or `final_answer` (only the conversation's last assistant turn).
    `template_kwargs`: extra template variables, as `apply_chat_template(**kwargs)` passes them
    (`enable_thinking: false`, `reasoning_effort: high`, ...).
    `render_date`: the day `strftime_now` formats (transformers uses today's date; a fixed day
    keeps builds reproducible; set it to your training day for date-exact token ids).
    `algorithm`: `histogram_exact_fit` (default; near the tight lower bound, never more packs
    than best-fit-decreasing), `best_fit_decreasing` or `first_fit_shuffle` (uses `seed`).
    """

    model_config = ConfigDict(extra="forbid")

    tokenizer: str | None = None
    chat_template: str | None = None
    loss_on: Literal["all_assistant", "final_answer"] = "all_assistant"
    template_kwargs: dict[str, Any] = Field(default_factory=dict)
    render_date: date = date(2025, 6, 28)
    pack_size: int = Field(default=4096, gt=0)
    algorithm: Literal["histogram_exact_fit", "best_fit_decreasing",
                       "first_fit_shuffle"] = DEFAULT_ALGORITHM
    truncate: bool = False
    dry_run: bool = True
    seed: int = 0


def default_tokenizer_for_model(model_id: str) -> str:
    """Bundled tokenizer name for a model id (`openai/gpt-oss-20b` -> `o200k_harmony`)."""
    m = (model_id or "").lower().rsplit("/", 1)[-1]
    if "gpt-oss" in m or "gpt_oss" in m:
        return "o200k_harmony"
    if "llama" in m:
        return "llama3"
    if "qwen3" in m:
        return "qwen3"
    if "qwen" in m:
        return "qwen2.5"
    return "o200k_harmony"
