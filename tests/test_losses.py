import pytest
import torch
import torch.nn.functional as F

from course_utils import losses


def test_softmax_and_log_softmax_match_torch():
    z = torch.randn(5, 7) * 10
    assert torch.allclose(losses.softmax(z), F.softmax(z, dim=-1), atol=1e-6)
    assert torch.allclose(losses.log_softmax(z), F.log_softmax(z, dim=-1), atol=1e-5)
    assert torch.allclose(losses.logsumexp(z), torch.logsumexp(z, dim=-1), atol=1e-5)


def test_naive_softmax_overflows_where_the_stable_one_does_not():
    z = torch.tensor([[1000.0, 1001.0, 1002.0]])
    assert torch.isnan(losses.naive_softmax(z)).any()
    assert torch.allclose(losses.softmax(z), F.softmax(z, dim=-1))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_matches_torch_with_ignored_rows(reduction, label_smoothing):
    logits, labels = torch.randn(8, 5), torch.tensor([0, 4, -100, 2, 2, -100, 1, 3])
    ours = losses.cross_entropy(logits, labels, reduction=reduction, label_smoothing=label_smoothing)
    ref = F.cross_entropy(logits, labels, reduction=reduction, label_smoothing=label_smoothing)
    assert torch.allclose(ours, ref, atol=1e-6)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_hand_derived_gradient_matches_autograd(label_smoothing):
    logits = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    loss = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    (auto,) = torch.autograd.grad(loss, logits)
    assert torch.allclose(losses.cross_entropy_grad(logits.detach(), labels, label_smoothing), auto)
    assert torch.autograd.gradcheck(lambda z: losses.cross_entropy(z, labels, label_smoothing=label_smoothing), logits)


def test_binary_cross_entropy_and_its_gradient():
    z = torch.randn(10, dtype=torch.float64, requires_grad=True) * 30
    y = torch.randint(0, 2, (10,)).double()
    assert torch.allclose(losses.binary_cross_entropy_with_logits(z, y), F.binary_cross_entropy_with_logits(z, y))
    (auto,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(z, y), z)
    assert torch.allclose(losses.binary_cross_entropy_grad(z.detach(), y), auto)
    with pytest.raises(ValueError, match="targets shape"):
        losses.binary_cross_entropy_with_logits(z, y[:3])


def test_sum_reduction_scales_the_gradient_by_the_batch_size():
    logits = torch.randn(16, 3, requires_grad=True)
    labels = torch.randint(0, 3, (16,))
    (g_mean,) = torch.autograd.grad(losses.cross_entropy(logits, labels, "mean"), logits)
    (g_sum,) = torch.autograd.grad(losses.cross_entropy(logits, labels, "sum"), logits)
    assert torch.allclose(g_sum, 16 * g_mean, atol=1e-6)


def test_bad_inputs_get_clear_errors():
    with pytest.raises(ValueError, match=r"labels shape \(3,\) does not match logits \(4, 5\)"):
        losses.cross_entropy(torch.randn(4, 5), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="label 7 is out of range for 5 classes"):
        losses.cross_entropy(torch.randn(2, 5), torch.tensor([1, 7]))
    with pytest.raises(ValueError, match="logits must be"):
        losses.cross_entropy(torch.randn(2, 3, 5), torch.zeros(2, dtype=torch.long))
    with pytest.raises(TypeError, match="integer class indices"):
        losses.cross_entropy(torch.randn(2, 5), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="reduction='avg'"):
        losses.cross_entropy(torch.randn(2, 5), torch.tensor([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.one_hot_target(torch.tensor([0]), 3, label_smoothing=1.0)


def test_perplexity_of_a_uniform_guess_is_the_number_of_classes():
    logits, labels = torch.zeros(100, 50), torch.randint(0, 50, (100,))
    assert losses.perplexity(losses.cross_entropy(logits, labels)) == pytest.approx(50)
