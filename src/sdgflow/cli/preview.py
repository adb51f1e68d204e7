"""`sdgflow preview`: generate a few records and show each conversation with its verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from sdgflow.cli.app import app
from sdgflow.cli.common import OverridesArg, QuietOption, RecipeOption, VerboseOption, user_errors

if TYPE_CHECKING:  # sdgflow.preview pulls in the openai client: imported when preview runs
    from sdgflow.preview import PreviewRecord

ROLE_STYLE = {"system": "dim", "user": "cyan", "assistant": "green", "tool": "magenta"}


def render_message(message: dict[str, Any]) -> Panel:
    role = str(message.get("role"))
    parts: list[Any] = []
    if message.get("content"):
        parts.append(Text(str(message["content"])))
    for call in message.get("tool_calls") or []:
        fn = call.get("function", {})
        parts.append(Text(f"→ {fn.get('name')}({fn.get('arguments')})  [{call.get('id')}]",
                          style="bold yellow"))
    title = escape(role if role != "tool" else
                   f"tool {message.get('name')} [{message.get('tool_call_id')}]")
    return Panel(Group(*parts) if parts else Text("(empty)", style="dim"), title=title,
                 title_align="left", border_style=ROLE_STYLE.get(role, "red"))


def render_record(record: PreviewRecord) -> Panel:
    from sdgflow.project.layout import decoded

    if record.codes:
        verdict = Text("REJECTED  " + ", ".join(record.codes), style="bold red")
        body: list[Any] = [verdict, *[Text(f"  - {r}") for r in record.reasons]]
        if record.row:
            body += [render_message(m) for m in decoded(record.row).get("messages", [])]
        elif record.raw:
            body.append(Syntax(record.raw[:3000], "json", word_wrap=True))
    else:
        row = decoded(record.row or {})  # (the json_string layouts)
        tools = ", ".join(t.get("function", {}).get("name", "?") for t in row.get("tools", []))
        meta = {k: v for k, v in row.items() if k not in ("messages", "tools")}
        body = [Text("VALID", style="bold green"), Text(f"tools: {tools}", style="dim"),
                Text(f"metadata: {meta}", style="dim"),
                *[render_message(m) for m in row.get("messages", [])]]
    return Panel(Group(*body), title=f"record {record.record_id}", title_align="left")


@app.command("preview")
def preview(config: RecipeOption, overrides: OverridesArg = None,
            verbose: VerboseOption = 0, quiet: QuietOption = False) -> None:
    """Generate N records (num_records=N) and print each conversation and its verdict.

    Writes under the preview path only; answers are stored, so the full run re-uses them.
    """
    from sdgflow.config.load import load_recipe
    from sdgflow.jobs.job import configure_logging
    from sdgflow.preview import run_preview

    configure_logging(None, -1 if quiet else verbose)
    with user_errors():
        recipe = load_recipe(config, overrides or [], {"preview": True})
        result = run_preview(recipe)
    console = Console()
    for record in result.records:
        console.print(render_record(record))
    valid = sum(not r.codes for r in result.records)
    s = result.summary
    console.print(f"[bold]{valid}/{len(result.records)} valid[/]; {s.requests_sent} requests "
                  f"sent, {s.answers_from_store} answers from the store; files under "
                  f"{result.paths.work} and {result.paths.output.parent}")
