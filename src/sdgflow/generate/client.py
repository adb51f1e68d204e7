"""One client path: the official AsyncOpenAI client for every provider, offline included."""

from __future__ import annotations

import os
from typing import Any

import httpx2
import openai

from sdgflow.config.errors import ConfigError
from sdgflow.config.models import Provider, Recipe
from sdgflow.config.providers import BUILTIN_PROVIDERS, OFFLINE


def provider_for(recipe: Recipe, alias: str) -> Provider:
    name = recipe.provider or recipe.model_for(alias).provider
    declared = {p.name: p for p in recipe.providers}
    return declared.get(name) or BUILTIN_PROVIDERS[name]


def require_api_keys(recipe: Recipe) -> None:
    """Fail before any work when a provider's key variable is unset."""
    for column in recipe.llm_columns:
        provider = provider_for(recipe, column.model_alias)
        if provider.api_key and not os.environ.get(provider.api_key):
            raise ConfigError(
                f"provider '{provider.name}' needs its API key in the environment variable "
                f"{provider.api_key}, which is not set",
                key=f"columns.{column.name}.model_alias",
                fix=f"export {provider.api_key}=... ; or try the pipeline on the built-in "
                "simulator with `--config provider=offline` (sdgflow: `provider=offline`)",
            )


def make_client(recipe: Recipe, alias: str, concurrency: int) -> openai.AsyncOpenAI:
    """AsyncOpenAI for the alias's provider, with a connection pool sized to `concurrency`."""
    provider = provider_for(recipe, alias)
    params = recipe.model_for(alias).inference_parameters
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    timeout = httpx2.Timeout(params.timeout, connect=min(10.0, params.timeout))
    kwargs: dict[str, Any] = {}
    if provider.name == OFFLINE:
        from sdgflow.simulator.app import create_app

        app = create_app(recipe.simulator)
        kwargs["transport"] = httpx2.ASGITransport(app=app)
    if not provider.endpoint.startswith("https://"):
        # Plain HTTP (a local server, the simulator) never uses TLS; building the default
        # context anyway costs ~0.13 s of every job's start-up.
        kwargs["verify"] = False
    # aiohttp under the openai client (its `aiohttp` extra) costs about half the CPU per
    # request of the default httpx transport; the in-process simulator needs httpx's ASGI one.
    client_class = httpx2.AsyncClient if "transport" in kwargs else openai.DefaultAioHttpClient
    http_client = client_class(limits=limits, timeout=timeout, **kwargs)
    # The key is read from the environment here, at request time, and never stored anywhere.
    key = os.environ.get(provider.api_key, "") if provider.api_key else "offline"
    # Retries are ours (retry.py): the client's own would hide attempts and ignore our budget.
    return openai.AsyncOpenAI(base_url=provider.endpoint, api_key=key or "missing",
                              http_client=http_client, max_retries=0, timeout=timeout)
