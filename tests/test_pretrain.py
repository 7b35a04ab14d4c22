import torch

from course_utils import gpt, lm_data
from course_utils.config.ch08_gpt import GPT
from course_utils.pretrain import pretrain


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
