"""The chat request for one (record, LLM column), and the key it is stored under.

The key is computed in ONE place from named inputs, so anyone can see what invalidates a stored
answer: the record's identity, the column, and the full request body (model, provider, identity
inference parameters, rendered messages, response format, per-record seed).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from sdgflow.build.spec import IDENTITY_INFERENCE_KEYS
from sdgflow.config.models import LLMColumn, LLMJudgeColumn, LLMStructuredColumn, Recipe
from sdgflow.config.prompts import ENV

_TEMPLATES: dict[str, Any] = {}


def render(template: str, context: dict[str, Any]) -> str:
    compiled = _TEMPLATES.get(template)
    if compiled is None:
        compiled = _TEMPLATES[template] = ENV.from_string(template)
    return compiled.render(context)


def record_seed(recipe_seed: int, record_id: int, column: str) -> int:
    """A per-record sampling seed: identical prompts in two records are two samples."""
    digest = hashlib.blake2b(f"{recipe_seed}:{record_id}:{column}".encode(), digest_size=4)
    return int.from_bytes(digest.digest(), "big") & 0x7FFFFFFF


def response_format(column: LLMColumn) -> dict[str, Any] | None:
    if isinstance(column, LLMStructuredColumn):
        if column.output_format is None:
            return {"type": "json_object"}
        return {"type": "json_schema",
                "json_schema": {"name": column.name, "schema": column.output_format}}
    if isinstance(column, LLMJudgeColumn):
        return {"type": "json_object"}
    return None


def judge_instructions(column: LLMJudgeColumn) -> str:
    lines = ["", "Score the above on each criterion. Reply with ONLY a JSON object mapping each "
             "criterion name to {\"score\": <option>, \"reasoning\": <one sentence>}."]
    for score in column.scores:
        options = "; ".join(f"{k}: {v}" for k, v in score.options.items())
        lines.append(f"- {score.name}: {score.description} Options: {options}")
    return "\n".join(lines)


_IDENTITY: dict[int, tuple[Any, dict[str, Any]]] = {}


def _identity_params(params: Any) -> dict[str, Any]:
    """The identity inference parameters that are set, dumped once per model, not per request."""
    cached = _IDENTITY.get(id(params))
    if cached is None or cached[0] is not params:
        dumped = params.model_dump()
        cached = _IDENTITY[id(params)] = (params, {k: dumped[k] for k in IDENTITY_INFERENCE_KEYS
                                                   if dumped[k] is not None})
    return cached[1]


def build_request(recipe: Recipe, column: LLMColumn, context: dict[str, Any],
                  record_id: int) -> dict[str, Any]:
    """The exact JSON body sent to /chat/completions (model + identity parameters)."""
    model = recipe.model_for(column.model_alias)
    messages = []
    if column.system_prompt:
        messages.append({"role": "system", "content": render(column.system_prompt, context)})
    prompt = render(column.prompt, context)
    if isinstance(column, LLMJudgeColumn):
        prompt += judge_instructions(column)
    messages.append({"role": "user", "content": prompt})
    params = model.inference_parameters
    body: dict[str, Any] = {"model": model.model, "messages": messages}
    body.update(_identity_params(params))
    # A user-fixed seed still varies per record; without one each record gets its own.
    body["seed"] = record_seed(recipe.seed if params.seed is None else params.seed,
                               record_id, column.name)
    fmt = response_format(column)
    if fmt is not None:
        body["response_format"] = fmt
    return body


def request_key(record_id: int, column: str, provider: str, body: dict[str, Any]) -> str:
    """The store key: record identity + column + provider + the full request."""
    payload = {"record_id": record_id, "column": column, "provider": provider, "body": body}
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
