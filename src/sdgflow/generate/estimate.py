"""What a request will cost before it is sent: tokens from its size, dollars from the prices.

One estimate serves the pacer (tokens per minute), the budget (the cap is checked before a
request is sent) and `sdgflow plan`, so all three agree on what a request is expected to cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sdgflow.config.models import ModelPrice

# A rough, tokenizer-free size: about four characters per token for English text and JSON,
# plus a few tokens of framing per message. Corrected by the answer's `usage` after the call.
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
# Completion estimate when the request sets no max_tokens and nothing was observed yet.
DEFAULT_COMPLETION_TOKENS = 1000


def prompt_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages") or []
    chars = sum(len(m.get("content") or "") for m in messages if isinstance(m, dict))
    return chars // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE * len(messages)


def completion_tokens(body: dict[str, Any], observed_mean: float | None = None) -> int:
    """The completion a request is expected to use: what answers of its kind used so far, else
    its max_tokens (which is also what hosted APIs reserve against a token limit)."""
    ceiling = body.get("max_tokens") or body.get("max_completion_tokens")
    if observed_mean is not None:
        return int(min(observed_mean, ceiling) if ceiling else observed_mean)
    return int(ceiling or DEFAULT_COMPLETION_TOKENS)


def limit_tokens(body: dict[str, Any]) -> int:
    """What a request counts against a tokens-per-minute limit when sent: its prompt plus its
    max_tokens, as OpenAI-style limiters count it."""
    return prompt_tokens(body) + completion_tokens(body)


@dataclass(frozen=True)
class Usage:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.requests + other.requests, self.prompt_tokens + other.prompt_tokens,
                     self.completion_tokens + other.completion_tokens, self.cost + other.cost)


def priced(requests: int, prompt: int, completion: int, price: ModelPrice | None) -> Usage:
    cost = 0.0 if price is None else \
        (prompt * price.input_per_mtok + completion * price.output_per_mtok) / 1e6
    return Usage(requests, prompt, completion, cost)
