"""Real snakemake runs: a prompt edit, rebuilt, is compared with the build before it in the
report, at the end of the validate and pack jobs' logs and by `sdgflow compare`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.harness import snakemake

STEM = "output/sdg/customer_support_tool_sft"


def test_a_prompt_edit_is_compared_with_the_previous_build(project: Path) -> None:
    recipe = project / "configs" / "customer_support_tools.yaml"
    text = recipe.read_text().replace("num_records: 100\n", "num_records: 20\n", 1)
    recipe.write_text(text)
    first = snakemake(project)  # the default target: dataset, packing report, HTML report
    assert first.returncode == 0, first.output
    assert "first build of customer_support_tools kept for comparison" in first.output
    page = (project / f"{STEM}.report.html").read_text()
    assert "No previous build of this recipe kept yet" in page
    assert not (project / f"{STEM}.validation.previous.json").exists()
    before = json.loads((project / f"{STEM}.validation.json").read_text())

    # A prompt edit (the offline simulator writes other conversations for it: new requests).
    assert "- Do not include markdown in message content.\n" in text
    recipe.write_text(text.replace(
        "- Do not include markdown in message content.\n",
        "- Put the final answer's key facts in a markdown list.\n", 1))
    second = snakemake(project)
    assert second.returncode == 0, second.output
    assert second.rules["generate"] == 1 and second.rules["report"] == 1

    previous = project / f"{STEM}.validation.previous.json"
    assert json.loads(previous.read_text()) == before  # the first build's summary, as it was
    after = json.loads((project / f"{STEM}.validation.json").read_text())
    assert after["build"]["stages"]["generate"] != before["build"]["stages"]["generate"]
    assert after["build"]["stages"]["validate"] == before["build"]["stages"]["validate"]

    # The log: the comparison closes the validate job's output.
    assert "what changed (previous -> this build):" in second.output
    assert "  - prompt of `conversation` edited" in second.output
    assert "  - `generate` stage spec changed" in second.output
    assert "`validate` stage spec changed" not in second.output

    # Token lengths as the trainer counts them close the pack job's output.
    tokens = json.loads((project / f"{STEM}.packing.json").read_text())
    tokens_before = json.loads((project / f"{STEM}.packing.previous.json").read_text())
    mean = (f"{tokens_before['total_tokens'] / tokens_before['records']:.2f}",
            f"{tokens['total_tokens'] / tokens['records']:.2f}")
    assert "token lengths (previous -> this build):" in second.output
    assert re.search(r"tokens per record mean\s+" + r"\s+".join(map(re.escape, mean)),
                     second.output), second.output

    # The report: the same, side by side, with the figures of both builds.
    page = (project / f"{STEM}.report.html").read_text()
    card = re.search(r'<section id="changes".*?</section>', page, re.DOTALL).group(0)
    assert "<li>prompt of <code>conversation</code> edited</li>" in card
    rate = re.search(r'data-figure="pass rate"><td>pass rate</td><td class=\'num\'>([^<]+)</td>'
                     r"<td class='num'>([^<]+)</td>", card)
    assert rate is not None
    assert rate.groups() == (f"{before['pass_rate']:.1%}", f"{after['pass_rate']:.1%}")
    assert 'data-figure="tokens per record mean"' in card

    # Any two builds, from the command line.
    done = subprocess.run([sys.executable, "-m", "sdgflow", "compare", str(previous),
                           f"{STEM}.validation.json"], cwd=project, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "prompt of `conversation` edited" in done.stdout
    assert re.search(r"tokens per record mean\s+" + r"\s+".join(map(re.escape, mean)),
                     done.stdout), done.stdout
    assert re.search(r"pass rate\s+" + re.escape(f"{before['pass_rate']:.1%}") + r"\s+"
                     + re.escape(f"{after['pass_rate']:.1%}"), done.stdout)
