"""`sdgflow inspect PATH [N] [--sample K] [--rejects]`: look at records of a final JSONL or a
rejects file, with failure codes highlighted. Streams the file (one record or a reservoir of
K in memory), so it is as fast on a million rows as on ten."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from sdgflow.cli.app import app
from sdgflow.cli.common import err

ROLE_STYLE = {"system": "bright_black", "user": "cyan", "assistant": "green", "tool": "magenta"}
RAW_CHARS = 4000


def rejects_path_for(path: Path) -> Path:
    """`x.jsonl` -> `x.rejects.jsonl`; a rejects file stays itself."""
    if path.name.endswith(".rejects.jsonl"):
        return path
    return path.with_name(path.name.removesuffix(".jsonl") + ".rejects.jsonl")


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False, indent=2)


def render_message(message: Any) -> Panel:
    if not isinstance(message, dict):
        return Panel(Text(repr(message)), title="invalid message", border_style="red")
    role = str(message.get("role"))
    parts: list[RenderableType] = []
    content = message.get("content")
    if role == "tool":
        parts.append(Syntax(_pretty(content), "json", word_wrap=True, background_color="default"))
        title = f"tool result · {message.get('name', '')} [{message.get('tool_call_id', '')}]"
    else:
        if content:
            parts.append(Text(content if isinstance(content, str) else _pretty(content)))
        for call in message.get("tool_calls") or []:
            fn = call.get("function", {}) if isinstance(call, dict) else {}
            head = Text(f"→ tool call {fn.get('name')}  [{call.get('id')}]", style="bold yellow")
            parts += [head, Syntax(_pretty(fn.get("arguments")), "json", word_wrap=True,
                                   background_color="default")]
        title = role
    return Panel(Group(*parts) if parts else Text("(empty)", style="dim"), title=title,
                 title_align="left", border_style=ROLE_STYLE.get(role, "red"))


def render_row(row: dict[str, Any], heading: str) -> Panel:
    from sdgflow.project.layout import decoded  # (pydantic models: not at `sdgflow --help`)

    row = decoded(row)  # (the json_string layouts)
    tools = [t.get("function", {}).get("name", "?") for t in row.get("tools") or []
             if isinstance(t, dict)]
    meta = {k: v for k, v in row.items() if k not in ("messages", "tools")}
    body: list[RenderableType] = [
        Text.assemble(("tools: ", "dim"), ", ".join(map(str, tools)) or "(none)"),
        Text.assemble(("metadata: ", "dim"), json.dumps(meta, ensure_ascii=False)),
    ]
    body += [render_message(m) for m in row.get("messages") or []]
    return Panel(Group(*body), title=heading, title_align="left")


def render_reject(entry: dict[str, Any], heading: str) -> Panel:
    codes = entry.get("codes") or []
    reasons = entry.get("reasons") or []
    body: list[RenderableType] = [Text.assemble(
        ("REJECTED ", "bold red"), (f"at {entry.get('stage', '?')}  ", "dim"),
        *[(f"{code}  ", "bold red reverse" if i == 0 else "bold red")
          for i, code in enumerate(codes)])]
    for i, code in enumerate(codes):
        reason = reasons[i] if i < len(reasons) else ""
        body.append(Text.assemble(("  • ", "red"), (str(code), "bold red"), ": ", str(reason)))
    row = entry.get("row")
    if isinstance(row, dict):
        body.append(render_row(row, "row"))
    elif entry.get("raw"):
        raw = str(entry["raw"])
        clipped = raw if len(raw) <= RAW_CHARS else raw[:RAW_CHARS] + "\n… (clipped)"
        body.append(Panel(Syntax(clipped, "json", word_wrap=True, background_color="default"),
                          title="raw answer", title_align="left", border_style="red"))
    return Panel(Group(*body), title=heading, title_align="left", border_style="red")


def render_line(line: bytes, index: int) -> Panel:
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Panel(Group(Text(f"not JSON: {exc}", style="bold red"),
                           Text(line.decode("utf-8", "replace")[:RAW_CHARS])),
                     title=f"line {index}", title_align="left", border_style="red")
    if not isinstance(entry, dict):
        return Panel(Text(repr(entry)), title=f"line {index}: not an object", border_style="red")
    if "codes" in entry and ("row" in entry or "raw" in entry):
        return render_reject(entry, f"record {entry.get('record_id', '?')} · line {index}")
    rid = entry.get("record_id")
    return render_row(entry, f"line {index}" + (f" · record {rid}" if rid is not None else ""))


def _records(path: Path) -> Any:
    """(index, line) of each non-blank line: the index counts records, not physical lines."""
    index = 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield index, line
                index += 1


@app.command("inspect")
def inspect(
    path: Annotated[Path, typer.Argument(help="A final JSONL, or a rejects JSONL.")],
    n: Annotated[int | None, typer.Argument(
        metavar="[N]", help="Record number (0-based, blank lines skipped). Default: 0.")] = None,
    sample: Annotated[int | None, typer.Option(
        "--sample", "-s", min=1,
        help="Show K records drawn at random instead of record N.")] = None,
    rejects: Annotated[bool, typer.Option(
        "--rejects", "-r", help="Read the rejects file next to PATH (x.jsonl -> "
        "x.rejects.jsonl).")] = False,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Seed for --sample (default: a new sample every time).")] = None,
) -> None:
    """Pretty-print record N, or a random sample, with failure codes highlighted in red."""
    if rejects:
        path = rejects_path_for(path)
    if not path.is_file():
        err.print(f"[bold red]error:[/] {path} is not a file", highlight=False)
        sys.exit(2)
    if sample is not None and n is not None:
        err.print("[bold red]error:[/] give N or --sample K, not both", highlight=False)
        sys.exit(2)
    console = Console()
    if sample is None:
        want = n or 0
        if want < 0:
            err.print("[bold red]error:[/] N must be >= 0", highlight=False)
            sys.exit(2)
        count = 0
        for index, line in _records(path):
            if index == want:
                console.print(render_line(line, index))
                return
            count = index + 1
        if count == 0 and n is None:  # an empty rejects file is good news, not an error
            console.print(f"{path} has no records.")
            return
        err.print(f"[bold red]error:[/] {path} has {count} records; N must be below that",
                  highlight=False)
        sys.exit(2)
    rng = random.Random(seed)
    kept: list[tuple[int, bytes]] = []
    total = 0
    for index, line in _records(path):
        total = index + 1
        if len(kept) < sample:
            kept.append((index, line))
        elif (j := rng.randrange(total)) < sample:
            kept[j] = (index, line)
    if not kept:
        console.print(f"{path} has no records.")
        return
    for index, line in sorted(kept):
        console.print(render_line(line, index))
    console.print(Text(f"{len(kept)} of {total} records from {path}", style="dim"))
