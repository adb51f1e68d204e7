"""Offline simulator of an OpenAI-compatible chat endpoint (the `offline` provider, `serve-sim`).

Names resolve lazily: every recipe load imports `SimulatorSettings`, and a seed job should not
pay for importing the ASGI app it never runs.
"""

from typing import Any

__all__ = ["Simulator", "SimulatorSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "SimulatorSettings":
        from sdgflow.simulator.settings import SimulatorSettings

        return SimulatorSettings
    if name in ("Simulator", "create_app"):
        from sdgflow.simulator import app

        return getattr(app, name)
    raise AttributeError(name)
