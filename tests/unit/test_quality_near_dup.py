"""dedupe.near_duplicate: conversations told again with small edits (names, numbers, one
reworded sentence) are found and name the earlier record; unrelated ones are not."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sdgflow.project.config import StructuredMessagesProjection
from sdgflow.quality.near_dup import NearDuplicateIndex
from sdgflow.validate.checks import tokens
from sdgflow.validate.config import ValidationConfig
from sdgflow.validate.run import validate_file

# Four unrelated support chats, typed by hand: (role, text) of the user and assistant turns.
DELAYED = [
    ("user", "Hi, my Aurora wireless headphones were supposed to arrive three days ago and the "
             "tracking page has not moved since Monday. I paid for two day shipping."),
    ("assistant", "I am sorry the delivery is late, Priya. Could you share the order number so "
                  "I can look at the shipment and the carrier scans?"),
    ("user", "Sure, it is ORD-10492. I ordered it on the fourth and it still says label "
             "created, which is strange."),
    ("assistant", "Thank you. The carrier shows the parcel left our warehouse on the sixth and "
                  "is now expected tomorrow before 8 pm. Because it is more than two business "
                  "days past the estimate, you qualify for free expedited reshipping, and I can "
                  "refund the 12.99 shipping fee you paid. Would you like me to do both?"),
    ("user", "Yes please, refund the fee and keep the reshipping option open if it does not "
             "come tomorrow."),
    ("assistant", "Done. The 12.99 refund will reach your card in three to five days, and if "
                  "the package is not at your door by tomorrow evening just reply here and I "
                  "will send a replacement by overnight courier at no cost."),
]
REFUND = [
    ("user", "I returned a blender last week because the lid cracked on the first use, and I "
             "still have not seen any money back on my statement."),
    ("assistant", "That is frustrating, and I want to get it sorted. Which order was the "
                  "blender on, and roughly when did you drop off the return?"),
    ("user", "Order 55821, dropped it at the post office on the twelfth with the prepaid "
             "label you emailed me."),
    ("assistant", "I found it. The warehouse received the blender on the fifteenth and "
                  "approved the return this morning. A refund of 89 dollars was issued to your "
                  "original payment method; banks usually post it within a week."),
    ("user", "Okay, and do I get the shipping back too? I paid extra for the faster option."),
    ("assistant", "Yes. Since the item arrived damaged, the express shipping charge of 9 "
                  "dollars is refunded as well, in the same transaction, so you will see 98 "
                  "dollars in total."),
]
ADDRESS = [
    ("user", "Can I still change where my rug is going? We are moving apartments on Friday "
             "and I just realised the order has the old street on it."),
    ("assistant", "Congratulations on the move. If the order has not shipped yet I can update "
                  "it. What is the order number and the full new address?"),
    ("user", "It's 77310, and the new place is 14 Harbor Lane, apartment 3B, Portland, Maine."),
    ("assistant", "The rug has not left the warehouse, so the change went through: it will now "
                  "go to 14 Harbor Lane, apartment 3B, Portland. The delivery window stays "
                  "Tuesday to Thursday next week."),
    ("user", "Perfect. Will the courier need me to sign for it?"),
    ("assistant", "No signature is needed for this item; the courier will leave it at the "
                  "building's front desk if nobody answers, and you will get a photo by email."),
]
WARRANTY = [
    ("user", "My espresso machine stopped heating water after eleven months. Is that still "
             "covered? The light blinks red whenever I turn it on."),
    ("assistant", "A blinking red light usually points to the heating element. The machine "
                  "carries a two year warranty, so it should be covered. Could you tell me the "
                  "serial number printed under the drip tray?"),
    ("user", "The serial is BX-4471-A, bought from your site in March last year."),
    ("assistant", "Thanks. The serial is registered to your account and well inside its "
                  "warranty. I have opened a repair case; a prepaid box arrives in two days, "
                  "and the repaired or replaced machine ships back within ten working days."),
    ("user", "Do I need to include the milk frother and the water tank?"),
    ("assistant", "Only the main unit please. Keep the tank, frother and any capsules at home "
                  "so nothing gets lost in transit."),
]
UNRELATED = [DELAYED, REFUND, ADDRESS, WARRANTY]


def text(turns: list[tuple[str, str]]) -> list[str]:
    return tokens(" ".join(t for _, t in turns))


def edited(turns: list[tuple[str, str]], changes: dict[str, str]) -> list[tuple[str, str]]:
    out = []
    for role, said in turns:
        for old, new in changes.items():
            said = said.replace(old, new)
        out.append((role, said))
    assert out != turns  # every edit must change something
    return out


# (name, the conversation it edits, old -> new)
EDITS = [
    ("names", DELAYED, {"Priya": "Marcus", "Aurora wireless headphones": "Zenith earbuds"}),
    ("numbers", DELAYED, {"ORD-10492": "ORD-20931", "12.99": "7.49", "8 pm": "6 pm"}),
    ("one sentence", DELAYED, {
        "I ordered it on the fourth and it still says label created, which is strange.":
        "Placed it last Thursday and the status is stuck on label created."}),
    ("names", ADDRESS, {"Harbor Lane": "Maple Street", "Portland, Maine": "Salem, Oregon",
                        "Portland": "Salem"}),
    ("numbers", REFUND, {"55821": "61007", "89 dollars": "74 dollars", "98": "83",
                         "twelfth": "ninth", "fifteenth": "eleventh"}),
    ("one sentence", WARRANTY, {
        "Only the main unit please.": "Please send just the machine itself."}),
]


@pytest.mark.parametrize("what,base,changes", EDITS, ids=[f"{e[0]}-{i}" for i, e in
                                                          enumerate(EDITS)])
def test_an_edited_retelling_is_found_and_names_the_earlier_record(
        what: str, base: list, changes: dict[str, str]) -> None:
    index = NearDuplicateIndex()
    for record_id, conversation in enumerate(UNRELATED):
        probe = index.probe(text(conversation))
        assert probe is not None and index.match(probe) is None
        index.add(probe, 100 + record_id)
    probe = index.probe(text(edited(base, changes)))
    assert probe is not None
    found = index.match(probe)
    assert found is not None, what
    assert found[0] == 100 + UNRELATED.index(base)
    assert 0.75 <= found[1] <= 1.0


def test_a_shuffled_vocabulary_is_no_near_duplicate() -> None:
    # The same words in another order share the vocabulary, not the text.
    index = NearDuplicateIndex()
    words = text(DELAYED)
    index.add(index.probe(words), 0)
    assert index.match(index.probe(sorted(words))) is None


def test_no_words_no_signature() -> None:
    assert NearDuplicateIndex().probe([]) is None


def test_many_unrelated_rows_stay_apart_and_the_earlier_record_is_named() -> None:
    index = NearDuplicateIndex()
    vocabulary = sorted(set(text(DELAYED + REFUND + ADDRESS + WARRANTY)))
    import random
    rng = random.Random(7)
    rows = [[rng.choice(vocabulary) for _ in range(60)] for _ in range(3000)]
    for i, words in enumerate(rows):
        probe = index.probe(words)
        assert index.match(probe) is None, i
        index.add(probe, f"r{i}")
    retold = list(rows[123])
    retold[30] = "zebra"
    found = index.match(index.probe(retold))
    assert found is not None and found[0] == "r123"


# -- through the validate stage ------------------------------------------------------------

PROJECTION = StructuredMessagesProjection(type="structured_messages",
                                          source_field="conversation")


def row(turns: list[tuple[str, str]]) -> dict[str, Any]:
    messages = [{"role": "system", "content": "You are a support agent."}]
    messages += [{"role": r, "content": t} for r, t in turns]
    return {"messages": messages}


def run(tmp_path: Path, rows: list[dict[str, Any]], **overrides: Any):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({**r, "_sdg": {"record_id": i, "context": {}}}) + "\n"
                           for i, r in enumerate(rows)))
    # Only the row-comparing checks: these rows are prose, not tool-calling conversations.
    off = {code: "off" for code in ("messages.count", "tool_calls.turn_count",
                                    "tool_messages.count", "tools.missing",
                                    "final.ungrounded_policy", "dialogue.no_clarifying_question")}
    cfg = ValidationConfig(min_pass_rate=0.0, checks={**off, **overrides.pop("checks", {})},
                           **overrides)
    report = validate_file(src, cfg, PROJECTION, tmp_path / "v.jsonl", tmp_path / "r.jsonl",
                           tmp_path / "v.json")
    valid = [json.loads(x) for x in (tmp_path / "v.jsonl").read_text().splitlines()]
    rejects = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    return report, valid, rejects


def test_validate_warns_by_default_and_keeps_the_row(tmp_path: Path) -> None:
    retold = edited(REFUND, {"55821": "61007"})
    rows = [row(c) for c in UNRELATED] + [row(retold)]
    report, valid, rejects = run(tmp_path, rows)
    assert rejects == [] and len(valid) == 5  # a warning drops nothing
    assert report.near_duplicates == 1 and report.warned == 1
    assert report.checks["dedupe.near_duplicate"].severity == "warn"
    example = report.examples["dedupe.near_duplicate"][0]
    assert example.record_id == 4
    assert example.message.startswith("the conversation nearly duplicates record 1: "
                                      "estimated Jaccard ")
    assert "validation.near_duplicate.threshold is 0.8" in example.message


def test_validate_rejects_when_set_to_error_and_an_exact_copy_is_only_a_duplicate(
        tmp_path: Path) -> None:
    retold = edited(WARRANTY, {"BX-4471-A": "CQ-9902-B"})
    rows = [row(c) for c in UNRELATED] + [row(retold), row(WARRANTY)]
    report, valid, rejects = run(tmp_path, rows,
                                 checks={"dedupe.near_duplicate": "error"})
    assert report.near_duplicates == 1 and report.duplicates == 1
    assert [(r["record_id"], r["codes"]) for r in rejects] == [
        (4, ["dedupe.near_duplicate"]), (5, ["dedupe.duplicate"])]
    assert len(valid) == 4


def test_a_higher_threshold_lets_a_looser_retelling_pass(tmp_path: Path) -> None:
    retold = edited(DELAYED, EDITS[0][2])  # Jaccard 0.92 of the word 3-shingles
    rows = [row(DELAYED), row(retold)]
    assert run(tmp_path, rows)[0].near_duplicates == 1
    strict = copy.deepcopy(rows)
    assert run(tmp_path, strict, near_duplicate={"threshold": 0.97})[0].near_duplicates == 0


def test_the_new_key_stays_out_of_the_stage_spec_at_its_default() -> None:
    assert "near_duplicate" not in ValidationConfig().spec_dump()
    assert ValidationConfig(near_duplicate={"threshold": 0.9}).spec_dump()[
        "near_duplicate"]["threshold"] == 0.9

