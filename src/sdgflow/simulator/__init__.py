"""Offline simulator of an OpenAI-compatible chat endpoint (the `offline` provider, `serve-sim`)."""

from sdgflow.simulator.app import Simulator, create_app
from sdgflow.simulator.settings import SimulatorSettings

__all__ = ["Simulator", "SimulatorSettings", "create_app"]
