import dataclasses

import pytest
import torch

from course_utils import gpt, lm_data
from course_utils.config.ch08_gpt import GPT
from course_utils.pretrain import load_snapshot, pretrain, snapshot_steps


def test_pretraining_lowers_the_dev_loss_and_samples_at_each_evaluation():
    ids = torch.arange(400) % 7  # a pattern a small decoder learns in a few steps
    shape = gpt.DecoderShape(vocab_size=7, context=8, layers=1, heads=2, width=16)
    recipe = GPT.pick("smoke").char
    dev = lm_data.held_out_windows(ids[:100], shape.context)
    before = lm_data.mean_loss(gpt.GPT(shape), dev)
    model, history = pretrain(shape, recipe, ids, dev, seed=0, device=torch.device("cpu"), steps=40, lr=1e-2,
                              sample=lambda m: "x", progress=False)
    assert not model.training
    assert [e["step"] for e in history.evals] == [10, 20, 30, 40] and history.evals[-1]["sample"] == "x"
    assert history.evals[-1]["dev_loss"] < 0.5 * before


def test_the_same_seed_trains_the_same_model():
    ids = torch.arange(300) % 5
    shape = gpt.DecoderShape(vocab_size=5, context=8, layers=1, heads=2, width=16)
    dev = lm_data.held_out_windows(ids, shape.context)
    runs = [pretrain(shape, GPT.pick("smoke").char, ids, dev, 3, torch.device("cpu"), progress=False)[0]
            for _ in range(2)]
    assert all(torch.equal(a, b) for a, b in zip(*(r.state_dict().values() for r in runs), strict=True))


def test_snapshots_keep_the_weights_at_step_0_every_n_steps_and_the_end(tmp_path):
    ids = torch.arange(300) % 5
    shape = gpt.DecoderShape(vocab_size=5, context=8, layers=1, heads=2, width=16, bias=False)
    dev = lm_data.held_out_windows(ids, shape.context)
    folder = tmp_path / "snapshots"
    (folder).mkdir()
    (folder / "step-00000099.safetensors").write_bytes(b"an earlier run's")  # removed: a new run
    model, _ = pretrain(shape, GPT.pick("smoke").char, ids, dev, 3, torch.device("cpu"), progress=False,
                        steps=12, snapshots=folder, snapshot_every=4)
    assert snapshot_steps(folder) == [0, 4, 8, 10, 12]  # every 4, and at the evaluations (every 10)
    last = load_snapshot(gpt.GPT(shape), folder, 12)
    assert all(torch.equal(a, b) for a, b in zip(last.state_dict().values(), model.state_dict().values(), strict=True))
    torch.manual_seed(3)  # pretrain's seed: the same initial weights
    initial = gpt.GPT(shape).state_dict()
    first = load_snapshot(gpt.GPT(shape), folder, 0).state_dict()
    assert all(torch.equal(a, b) for a, b in zip(first.values(), initial.values(), strict=True))
    with_biases = load_snapshot(gpt.GPT(dataclasses.replace(shape, bias=True)), folder, 12)  # as from_gpt2 builds
    ids = torch.tensor([[1, 2, 3, 4]])
    assert torch.allclose(with_biases(ids), model(ids), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="the steps are"):
        load_snapshot(gpt.GPT(shape), folder, 5)
    with pytest.raises(FileNotFoundError, match="run chapter 08 again"):
        snapshot_steps(tmp_path)
