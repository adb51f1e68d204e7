"""`sdgflow pack`: packing dry-run (render + tokenize + pack) of a validated JSONL file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sdgflow.cli.app import app


@app.command("pack")
def pack(
    in_path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                            help="validated tool-calling SFT JSONL")],
    tokenizer: Annotated[str | None, typer.Option(
        "--tokenizer", help="o200k_harmony | llama3 | qwen2.5 | qwen3 | path to a "
        "tokenizer.json (default: follows --model, else o200k_harmony)")] = None,
    chat_template: Annotated[str | None, typer.Option(
        "--chat-template", help="qwen3 | qwen2.5 (chatml) | llama3.1 | gpt-oss | harmony | "
        "NAME-training (TRL's, with generation markers) | path to a Jinja template "
        "(default: the tokenizer's model's own)")] = None,
    loss_on: Annotated[str, typer.Option(
        "--loss-on", help="all_assistant | final_answer")] = "all_assistant",
    pack_size: Annotated[int, typer.Option("--pack-size", min=1)] = 4096,
    algorithm: Annotated[str, typer.Option(
        "--algorithm", help="histogram_exact_fit | best_fit_decreasing | first_fit_shuffle"
    )] = "histogram_exact_fit",
    dry_run: Annotated[bool, typer.Option(
        "--dry-run/--no-dry-run", help="--no-dry-run also writes the packed parquet")] = True,
    packed: Annotated[Path | None, typer.Option("--packed", help="packed parquet output")] = None,
    truncate: Annotated[bool, typer.Option(
        "--truncate/--no-truncate", help="truncate over-length sequences instead of dropping "
        "them")] = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    model: Annotated[str | None, typer.Option(
        "--model", help="model id the default tokenizer follows")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1)] = None,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="report JSON (default: <stem>.packing.json)")] = None,
) -> None:
    """Render, tokenize and pack every record; write the packing report."""
    from pydantic import ValidationError

    from sdgflow.pack.config import PackingConfig
    from sdgflow.pack.run import pack_file

    try:
        cfg = PackingConfig(tokenizer=tokenizer, chat_template=chat_template,
                            loss_on=loss_on, pack_size=pack_size, algorithm=algorithm,
                            truncate=truncate, dry_run=dry_run, seed=seed)
    except ValidationError as e:
        raise typer.BadParameter(str(e)) from e
    if not dry_run and packed is None:
        raise typer.BadParameter("--no-dry-run needs --packed OUT.parquet", param_hint="--packed")
    report_path = output or in_path.with_name(in_path.name.split(".")[0] + ".packing.json")
    try:
        rep = pack_file(in_path, cfg, report_path, model_id=model, packed_path=packed,
                        workers=workers)
    except ValueError as e:  # unknown tokenizer / template
        raise typer.BadParameter(str(e)) from e
    typer.echo(
        f"{rep.records} records, {rep.total_tokens} tokens ({rep.loss_tokens} trainable), "
        f"{rep.packs} packs of {rep.pack_size} (lower bound {rep.lower_bound}, "
        f"ratio {rep.ratio_to_lower_bound:.4f}; tight lower bound {rep.tight_lower_bound}, "
        f"ratio {rep.ratio_to_tight_lower_bound:.4f}; efficiency {rep.efficiency:.4f}), "
        f"{rep.over_length} over length, {rep.problem_count} structural problems "
        f"[{rep.tokenizer}/{rep.chat_template}, {rep.seconds:.2f}s] -> {report_path}"
    )
    typer.echo("trainable share per role: " + ", ".join(
        f"{role} {r.loss_share:.0%} of {r.tokens}" for role, r in rep.loss_by_role.items()))
    for w in rep.template_warnings:
        typer.echo(f"warning: {w}", err=True)
