import json

import pytest

from course_utils.handover import GPTSummary, HandoverError

SUMMARY = GPTSummary(
    profile="cpu", vocab_size=1025, context=64, layers=4, heads=4, width=128, parameters=925_184,
    train_characters=1_003_854, steps=2000, seconds=96.0, device="cpu", dev_loss=3.7, test_loss=3.8,
    test_bits_per_character=2.4, tokens_per_character=0.44, snapshot_steps=(0, 125, 250),
)


def test_gpt_summary_round_trip(tmp_path):
    SUMMARY.save(tmp_path)
    assert GPTSummary.load(tmp_path, profile="cpu") == SUMMARY


def test_bad_input_a_summary_from_another_profile_or_layout_is_refused_by_name(tmp_path):
    SUMMARY.save(tmp_path)
    with pytest.raises(HandoverError, match="pretrained in the 'cpu' profile, and this is 'smoke'.*notebooks/08"):
        GPTSummary.load(tmp_path, profile="smoke")
    path = tmp_path / GPTSummary.FILE
    path.write_text(json.dumps({**json.loads(path.read_text()), "layout": 0}))
    with pytest.raises(HandoverError, match="has layout 0, and this course reads layout 2"):
        GPTSummary.load(tmp_path)
    path.write_text("{")
    with pytest.raises(HandoverError, match="is damaged"):
        GPTSummary.load(tmp_path)


def test_assistant_summary_round_trip_and_refusal(tmp_path):
    from course_utils.handover import AssistantSummary

    record = AssistantSummary(
        profile="cpu", decoder="artifacts/cpu/gpt-model", families=("reverse", "count"), train_per_family=500,
        steps=500, lr=3e-3, seed=0, seconds=40.0, device="cpu", test_exact={"reverse": 0.0, "count": 0.4},
    )
    record.save(tmp_path)
    assert AssistantSummary.load(tmp_path, profile="cpu") == record
    with pytest.raises(HandoverError, match="tuned in the 'cpu' profile, and this is 'full'.*notebooks/09"):
        AssistantSummary.load(tmp_path, profile="full")


def test_peft_runs_round_trip_and_a_method_is_found_by_name(tmp_path):
    from course_utils.handover import MethodRuns, PEFTRunsSummary, SeedRun
    from course_utils.resources import resolve_model

    run = SeedRun(seed=0, dev_f1=0.7, test_counts=[[1, 2, 1]], seconds_per_epoch=3.0, peak_memory_mb=10.0)
    record = PEFTRunsSummary(
        profile="smoke", encoder=resolve_model("smoke").location,
        methods=(MethodRuns(name="BitFit", label="BitFit", lr=1e-2, trainable=10, total=100, stored_mb=0.1,
                            runs=(run,)),),
    )
    record.save(tmp_path / "peft-runs")
    assert PEFTRunsSummary.load(tmp_path / "peft-runs", "smoke") == record
    assert record.by_name("BitFit").runs == (run,)
    with pytest.raises(KeyError, match="it ran BitFit"):
        record.by_name("LoRA")
    with pytest.raises(HandoverError, match="'smoke' profile, and this is 'cpu'"):
        PEFTRunsSummary.load(tmp_path / "peft-runs", "cpu")
