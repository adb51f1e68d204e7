"""The HTML report in a real browser: Debian's Chromium driven by Playwright.

The pipeline runs for real in a scratch project (offline simulator, a few faults so the rejects
table has rows), then the file:// report is loaded with the network blocked and every request
recorded. Expectations come from the run's own files (validation.json, the valid JSONL), never
from constants, so the test follows the recipe.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.harness import snakemake

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
STEM = "output/sdg/customer_support_tool_sft"

pytestmark = [
    pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600),
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs Debian's /usr/bin/chromium (apt-get install -y chromium)"),
]


def _box(locator: Any) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0, locator
    return box


@pytest.fixture
def built_report(project: Path) -> Path:
    # Truncation and fences make projection rejects and repairs: every section has content.
    run = snakemake(project, "all", "--config", "num_records=30", "shard_size=15",
                    "set=[simulator.rate_truncate=0.1,simulator.rate_fenced=0.2]")
    assert run.returncode == 0, run.output[-4000:]
    report = project / f"{STEM}.report.html"
    assert report.is_file()
    return report


def test_report_renders_in_chromium(built_report: Path, project: Path, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    validation = json.loads((project / f"{STEM}.validation.json").read_text())
    rows = [json.loads(line) for line in (project / f"{STEM}.jsonl").read_text().splitlines()
            if line.strip()]
    failing_codes = {code for code, c in validation["checks"].items() if c["failed"]}
    tools_called = {c["function"]["name"] for r in rows for m in r["messages"]
                    for c in m.get("tool_calls") or []}
    samples = min(4, len(rows))  # ReportConfig.samples defaults to 4

    url = built_report.resolve().as_uri()
    requests: list[str] = []
    console_errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1320, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error"
                    else None)
            page.on("pageerror", lambda e: console_errors.append(str(e)))
            # Anything but the report itself is a failure; abort it so nothing leaves the box.
            page.route("**/*", lambda route: route.continue_() if route.request.url == url
                       else route.abort())
            page.goto(url, wait_until="load")

            for chart in ("funnel", "pass-rate", "token-lengths", "packing-efficiency",
                          "tool-usage", "messages-per-conversation", "category-urgency",
                          "category-channel"):
                _box(page.locator(f'svg.chart[data-chart="{chart}"]'))
            bars = page.locator('svg.chart[data-chart="pass-rate"] rect.bar')
            assert bars.count() == len(validation["checks"])
            assert page.locator('svg.chart[data-chart="token-lengths"] rect.bar').count() > 0
            lengths = page.locator('svg.chart[data-chart="token-lengths"]')
            assert lengths.locator('[data-marker^="pack size"]').count() == 1
            called = page.locator('svg.chart[data-chart="tool-usage"] rect.bar'
                                  '[data-series="called"]')
            shown = {called.nth(i).get_attribute("data-label") for i in range(called.count())}
            assert tools_called <= shown

            conversations = page.locator("#samples .conversation")
            assert conversations.count() == samples
            for i in range(samples):
                conv = conversations.nth(i)
                _box(conv)
                for kind in ("user", "assistant", "tool-call", "tool-result"):
                    _box(conv.locator(f".bubble.{kind}").first)
            call = page.locator(".conversation .bubble.tool-call pre").first
            assert "monospace" in call.evaluate("e => getComputedStyle(e).fontFamily")
            colours = {kind: page.locator(f".conversation .bubble.{kind}").first.evaluate(
                "e => getComputedStyle(e).backgroundColor")
                for kind in ("user", "assistant", "tool-call", "tool-result")}
            assert len(set(colours.values())) == 4, colours

            valid_kpi = page.locator('[data-kpi="valid"] .value').inner_text()
            assert valid_kpi.replace(",", "") == str(validation["valid"])
            codes = page.locator("#rejects tr[data-code]")
            assert {codes.nth(i).get_attribute("data-code")
                    for i in range(codes.count())} == failing_codes
            _box(page.locator("#offline-banner"))
            # The quality card: one row per field the validate stage measured, on screen.
            _box(page.locator("#quality dl.stats"))
            fields = page.locator("#quality table.fields tr[data-field]")
            assert fields.count() == len(validation["diversity"]["fields"])
            _box(page.locator("#changes"))  # (a first build: it says none was kept yet)

            shot = tmp_path / "report.png"  # kept with the test's tmp dir
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
    assert requests == [url], f"requests besides the report itself: {requests}"
    assert not console_errors, console_errors
