"""Built-in providers: recipes may name them without declaring a `providers:` block."""

from __future__ import annotations

from sdgflow.config.models import Provider

OFFLINE = "offline"

BUILTIN_PROVIDERS: dict[str, Provider] = {
    "nvidia": Provider(
        name="nvidia", endpoint="https://integrate.api.nvidia.com/v1", api_key="NVIDIA_API_KEY"
    ),
    "openai": Provider(
        name="openai", endpoint="https://api.openai.com/v1", api_key="OPENAI_API_KEY"
    ),
    # The simulator runs in-process behind the same openai client; it needs no key.
    OFFLINE: Provider(name=OFFLINE, endpoint="http://offline/v1", api_key=None),
}
