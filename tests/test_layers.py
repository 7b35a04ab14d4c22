import math

import pytest
import torch
from torch import nn

from course_utils import layers


@pytest.mark.parametrize("shape,normalized", [((4, 16), (16,)), ((2, 5, 32), (32,)), ((2, 3, 4, 6), (4, 6))])
def test_forward_matches_nn_layernorm(shape, normalized):
    torch.manual_seed(0)
    x = torch.randn(shape) * 3 + 2
    ref = nn.LayerNorm(normalized)
    nn.init.normal_(ref.weight)
    nn.init.normal_(ref.bias)
    ours = layers.layer_norm(x, normalized, ref.weight, ref.bias, ref.eps)
    assert torch.allclose(ours, ref(x), atol=1e-5)
    module = layers.LayerNorm(normalized)
    module.load_state_dict(ref.state_dict())
    assert torch.allclose(module(x), ref(x), atol=1e-5)


def test_hand_backward_passes_gradcheck_and_matches_nn_layernorm():
    torch.manual_seed(0)
    x = torch.randn(3, 4, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    fn = lambda x, w, b: layers.LayerNormFunction.apply(x, w, b, (4, 6), 1e-5)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, w, b))
    grad_out = torch.randn(3, 4, 6, dtype=torch.float64)
    ours = torch.autograd.grad(fn(x, w, b), (x, w, b), grad_out)
    ref = torch.autograd.grad(nn.functional.layer_norm(x, (4, 6), w, b, 1e-5), (x, w, b), grad_out)
    for a, r in zip(ours, ref, strict=True):
        assert torch.allclose(a, r, atol=1e-10)


def test_one_pass_variance_fails_with_a_large_mean():
    torch.manual_seed(0)
    x = torch.randn(1000) + 1e4  # true variance about 1
    exact = x.double().var(unbiased=False).item()
    two_pass = ((x - x.mean()) ** 2).mean().item()
    assert two_pass == pytest.approx(exact, rel=1e-3)
    assert abs(layers.one_pass_variance(x).item() - exact) > 0.5  # E[x^2] ~ 1e8: float32 keeps ~7 digits


def test_rmsnorm_matches_torch():
    torch.manual_seed(0)
    x = torch.randn(2, 7, 32)
    ref = nn.RMSNorm(32, eps=1e-6)
    nn.init.normal_(ref.weight)
    ours = layers.RMSNorm(32, eps=1e-6)
    ours.load_state_dict(ref.state_dict())
    assert torch.allclose(ours(x), ref(x), atol=1e-5)


def test_bad_shapes_and_eps_are_explained():
    with pytest.raises(ValueError, match=r"normalized_shape \(8,\) must equal the last 1 dims .* \(2, 16\)"):
        layers.layer_norm(torch.randn(2, 16), 8)
    with pytest.raises(ValueError, match="eps must be positive"):
        layers.layer_norm(torch.randn(2, 16), 16, eps=0.0)
    with pytest.raises(ValueError, match="eps must be positive"):
        layers.LayerNorm(16, eps=-1.0)
    with pytest.raises(ValueError, match="normalized_shape"):
        layers.LayerNorm(16)(torch.randn(2, 8))
    with pytest.raises(ValueError, match="normalized_shape"):
        layers.rms_norm(torch.randn(3), (2, 3))
    with pytest.raises(ValueError, match="placement"):
        layers.EncoderBlock(16, 2, placement="middle")


@pytest.mark.parametrize("placement", ["pre", "post"])
def test_tiny_encoder_trains_a_step_and_reports_layer_gradients(placement):
    torch.manual_seed(0)
    model = layers.TinyEncoderMLM(vocab_size=50, hidden=16, layers=3, heads=2, max_len=12, placement=placement)
    ids = torch.randint(0, 50, (4, 12))
    labels = torch.full_like(ids, -100)
    labels[:, 3] = ids[:, 3]
    out = model(ids, torch.ones_like(ids), labels)
    assert out.logits.shape == (4, 12, 50) and out.loss.item() == pytest.approx(math.log(50), rel=0.1)
    out.loss.backward()
    norms = layers.layer_grad_norms(model)
    assert len(norms) == 3 and all(n > 0 for n in norms)
    block = model.blocks[0]
    assert isinstance(model.final_norm, nn.LayerNorm) == (placement == "pre") and block.placement == placement


def test_repeat_task_rows_hide_tokens_their_twin_shows():
    rows = layers.repeat_task_rows(200, 16, 20, mask_prob=0.3, seed=0)
    batch = torch.utils.data.default_collate(rows)
    inputs, labels = batch["input_ids"], batch["labels"]  # (200, 16)
    masked = labels != -100
    assert abs(masked.float().mean().item() - 0.3) < 0.03
    assert (inputs[masked] == layers.REPEAT_TASK_MASK_ID).all() and (inputs[~masked] >= 2).all()
    original = torch.where(masked, labels, inputs)
    assert torch.equal(original[:, :8], original[:, 8:])  # the second half repeats the first
    assert torch.equal(
        batch["input_ids"], torch.utils.data.default_collate(layers.repeat_task_rows(200, 16, 20, 0.3, 0))["input_ids"]
    )
    chance, floor = layers.repeat_task_losses(20, 0.3)
    assert chance == pytest.approx(math.log(18)) and floor == pytest.approx(0.3 * math.log(18))
    with pytest.raises(ValueError, match="even"):
        layers.repeat_task_rows(2, 15, 20)
    with pytest.raises(ValueError, match="vocab_size"):
        layers.repeat_task_rows(2, 16, 3)
    with pytest.raises(ValueError, match="mask_prob"):
        layers.repeat_task_rows(2, 16, 20, mask_prob=1.5)


def test_a_tiny_encoder_solves_the_repeat_task():
    torch.manual_seed(0)
    rows = layers.repeat_task_rows(32 * 200, 8, 12, seed=0)
    model = layers.TinyEncoderMLM(12, 64, 1, 2, 8, "pre")
    loader = torch.utils.data.DataLoader(rows, batch_size=32)
    from course_utils.train import TrainConfig, fit

    fit(model, loader, TrainConfig(lr=3e-3, max_steps=200, warmup_steps=10), progress=False)
    held = torch.utils.data.default_collate(layers.repeat_task_rows(256, 8, 12, seed=1))
    chance, floor = layers.repeat_task_losses(12)
    with torch.no_grad():
        loss = model(**held).loss.item()
    assert loss < (chance + floor) / 2  # measured 0.31 (chance 2.30, floor 0.35): it reads the twin
