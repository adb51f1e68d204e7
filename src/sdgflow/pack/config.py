"""Configuration of the packing dry-run stage (`packing:` in the recipe)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sdgflow.pack.packer import DEFAULT_ALGORITHM

BUNDLED_TOKENIZERS = ("o200k_harmony", "llama3", "qwen2.5", "qwen3")
BUNDLED_TEMPLATES = ("harmony", "chatml", "llama3")


class PackingConfig(BaseModel):
    """How the validated JSONL is rendered, tokenized and packed.

    `tokenizer`: a bundled name (`o200k_harmony`, `llama3`, `qwen2.5`, `qwen3`) or a path to
    a Hugging Face `tokenizer.json`; None follows the recipe's model.
    `chat_template`: `harmony`, `chatml`, `llama3` or a path to a Jinja chat template file;
    None follows the tokenizer family.
    `algorithm`: `histogram_exact_fit` (default; near the tight lower bound, never more packs
    than best-fit-decreasing), `best_fit_decreasing` or `first_fit_shuffle` (uses `seed`).
    """

    model_config = ConfigDict(extra="forbid")

    tokenizer: str | None = None
    chat_template: str | None = None
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
