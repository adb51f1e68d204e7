"""`sdgflow serve-sim`: the offline simulator over HTTP, for benchmarks and workflow/SLURM tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sdgflow.cli.app import app
from sdgflow.simulator.knobs import DEFAULT_MODELS, FAULT_HELP


def _rate(name: str) -> typer.models.OptionInfo:
    """A fault-probability option with the help text the settings define."""
    return typer.Option(
        min=0.0,
        max=1.0,
        help=f"Probability per request to {FAULT_HELP[name]}.",
        rich_help_panel="Faults",
    )


@app.command("serve-sim")
def serve_sim(
    port: Annotated[int, typer.Option(help="TCP port; 0 picks a free one (see --ready-file).")] = (
        8000
    ),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    latency: Annotated[float, typer.Option(min=0.0, help="Seconds of service per request.")] = 0.05,
    latency_jitter: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Latency varies by +- this fraction.")
    ] = 0.0,
    slots: Annotated[
        int, typer.Option(min=1, help="Requests served at once; the rest queue FIFO.")
    ] = 64,
    seed: Annotated[int, typer.Option(help="Seeds replies and fault decisions.")] = 0,
    api_key: Annotated[
        str | None, typer.Option(help="Require this bearer token; others get 401.")
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="Model id to serve (repeatable); others get 404."),
    ] = None,
    rate_429: Annotated[float, _rate("rate_429")] = 0.0,
    retry_after: Annotated[
        float,
        typer.Option(min=0.0, help="Retry-After seconds sent with 429.", rich_help_panel="Faults"),
    ] = 1.0,
    rate_500: Annotated[float, _rate("rate_500")] = 0.0,
    rate_hang: Annotated[float, _rate("rate_hang")] = 0.0,
    hang_seconds: Annotated[
        float,
        typer.Option(min=0.0, help="How long a hung request stalls.", rich_help_panel="Faults"),
    ] = 3600.0,
    rate_reset: Annotated[float, _rate("rate_reset")] = 0.0,
    rate_truncate: Annotated[float, _rate("rate_truncate")] = 0.0,
    rate_fenced: Annotated[float, _rate("rate_fenced")] = 0.0,
    rate_malformed: Annotated[float, _rate("rate_malformed")] = 0.0,
    rate_escaped_args: Annotated[float, _rate("rate_escaped_args")] = 0.0,
    rate_reasoning: Annotated[float, _rate("rate_reasoning")] = 0.0,
    rate_reasoning_only: Annotated[float, _rate("rate_reasoning_only")] = 0.0,
    rate_empty_choices: Annotated[float, _rate("rate_empty_choices")] = 0.0,
    rate_html: Annotated[float, _rate("rate_html")] = 0.0,
    rate_cut_body: Annotated[float, _rate("rate_cut_body")] = 0.0,
    rate_stall: Annotated[float, _rate("rate_stall")] = 0.0,
    rpm: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Requests per minute per model, like a hosted API: 429 with Retry-After above "
            "it, x-ratelimit-* headers on every answer.",
            rich_help_panel="Per-minute limits",
        ),
    ] = None,
    tpm: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Tokens per minute per model (prompt size + max_tokens, as OpenAI counts).",
            rich_help_panel="Per-minute limits",
        ),
    ] = None,
    rate_extra_turns: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Chance of one more user/assistant exchange after the tool answer.",
        ),
    ] = 0.3,
    ready_file: Annotated[
        Path | None,
        typer.Option(help='Write {"port": P, "pid": N} here once listening (a FIFO works too).'),
    ] = None,
    log_requests: Annotated[
        Path | None,
        typer.Option(help="Append one JSON line per answered chat request (fingerprint, status)."),
    ] = None,
    batch_api: Annotated[bool, typer.Option(
        help="Serve /v1/files and /v1/batches (--no-batch-api: 404 there, like vLLM's server).",
        rich_help_panel="Batch API")] = True,
    batch_seconds: Annotated[float, typer.Option(
        min=0.0, help="Seconds from a batch's creation until it completes.",
        rich_help_panel="Batch API")] = 0.0,
    batch_expire_seconds: Annotated[float | None, typer.Option(
        min=0.0, help="A batch not complete this long after creation expires (keeping the "
        "lines done by then).", rich_help_panel="Batch API")] = None,
    rate_batch_error: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Probability per batch line to fail (500 in the error file).",
        rich_help_panel="Batch API")] = 0.0,
) -> None:
    """Serve a simulated OpenAI-compatible chat endpoint at http://HOST:PORT/v1.

    Replies are seeded and faults are injected by probability.
    GET /sim/stats reports what clients did: requests, repeats, slot use.
    """
    # Imported here so `sdgflow --help` does not pay for uvicorn or pydantic.
    from pydantic import ValidationError

    from sdgflow.simulator.server import serve
    from sdgflow.simulator.settings import SimulatorSettings

    try:
        settings = SimulatorSettings(
            latency=latency,
            latency_jitter=latency_jitter,
            slots=slots,
            seed=seed,
            api_key=api_key,
            models=list(model) if model else list(DEFAULT_MODELS),
            rate_429=rate_429,
            retry_after=retry_after,
            rate_500=rate_500,
            rate_hang=rate_hang,
            hang_seconds=hang_seconds,
            rate_reset=rate_reset,
            rate_truncate=rate_truncate,
            rate_fenced=rate_fenced,
            rate_malformed=rate_malformed,
            rate_escaped_args=rate_escaped_args,
            rate_reasoning=rate_reasoning,
            rate_reasoning_only=rate_reasoning_only,
            rate_empty_choices=rate_empty_choices,
            rate_html=rate_html,
            rate_cut_body=rate_cut_body,
            rate_stall=rate_stall,
            rpm=rpm,
            tpm=tpm,
            rate_extra_turns=rate_extra_turns,
            log_requests=log_requests,
            batch_api=batch_api,
            batch_seconds=batch_seconds,
            batch_expire_seconds=batch_expire_seconds,
            rate_batch_error=rate_batch_error,
        )
    except ValidationError as err:
        raise typer.BadParameter(str(err)) from err
    serve(settings, host=host, port=port, ready_file=ready_file)
