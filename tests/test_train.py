import pytest
import torch

from course_utils.train import (
    TrainConfig,
    backward_step,
    default_loss,
    fit,
    linear_warmup_decay,
    lr_scales,
    param_groups,
)


class Regression(torch.nn.Module):
    """y = 3x + 1 as a model that returns a loss like a Hugging Face model."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)

    def forward(self, x, y):
        return type("Out", (), {"loss": torch.nn.functional.mse_loss(self.linear(x), y)})


def loader(n=64, batch_size=8):
    x = torch.linspace(-1, 1, n).unsqueeze(1)
    rows = [{"x": xi, "y": 3 * xi + 1} for xi in x]
    return torch.utils.data.DataLoader(rows, batch_size=batch_size, shuffle=True)


def test_schedule_warms_up_then_decays_to_zero():
    f = linear_warmup_decay(warmup_steps=4, total_steps=10)
    assert [round(f(s), 3) for s in range(11)] == [0.25, 0.5, 0.75, 1.0, 1.0, 0.833, 0.667, 0.5, 0.333, 0.167, 0.0]


def test_loop_learns_evaluates_and_records():
    torch.manual_seed(0)
    model = Regression()
    evaluate = lambda m: {"error": float((m.linear.weight.detach() - 3).abs() + (m.linear.bias.detach() - 1).abs())}  # noqa: E731
    history = fit(model, loader(), TrainConfig(lr=0.1, num_epochs=30, warmup_steps=5), evaluate, progress=False)
    assert len(history.steps) == 30 * 8 and len(history.evals) == 30
    assert history.evals[-1]["error"] < 0.05 < history.evals[0]["error"]
    assert history.steps[-1]["lr"] == pytest.approx(0.0)


def test_clipping_bounds_the_update_and_best_weights_are_restored():
    torch.manual_seed(0)
    model = Regression()
    calls = iter([3.0, 1.0, 2.0])  # the second evaluation is the best
    snapshots = []

    def evaluate(m):
        snapshots.append(m.linear.weight.item())
        return {"score": next(calls)}

    cfg = TrainConfig(lr=0.1, max_steps=3, eval_every=1, best_metric="score", best_mode="min", max_grad_norm=1e-3)
    history = fit(model, loader(), cfg, evaluate, progress=False)
    assert history.best["step"] == 2 and model.linear.weight.item() == snapshots[1]
    assert all(row["grad_norm"] > 1e-3 for row in history.steps)  # the norm before clipping is reported


def test_time_budget_and_checkpoint_resume(tmp_path):
    torch.manual_seed(0)
    model = Regression()
    cfg = TrainConfig(lr=0.05, max_steps=6, eval_every=3, checkpoint_dir=tmp_path)
    fit(model, loader(), cfg, lambda m: {}, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000003", "step-00000006"]  # at each eval
    resumed = Regression()
    history = fit(resumed, loader(), TrainConfig(lr=0.05, max_steps=8, checkpoint_dir=tmp_path), progress=False)
    assert [row["step"] for row in history.steps] == list(range(1, 9))  # steps 1-6 restored, 7-8 trained
    stopped = fit(Regression(), loader(), TrainConfig(lr=0.1, num_epochs=1000, time_budget_s=0.0), progress=False)
    assert len(stopped.steps) == 1


def test_lr_scales_decay_layer_by_layer_and_scale_the_head():
    from transformers import BertConfig, BertForTokenClassification

    config = BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=3, num_attention_heads=2, intermediate_size=16)
    model = BertForTokenClassification(config)
    scales = lr_scales(model, layer_decay=0.5, head_scale=10.0)
    assert scales["bert.encoder.layer.2.output.dense.weight"] == 1.0  # the top layer trains at lr
    assert scales["bert.encoder.layer.0.attention.self.query.weight"] == 0.25
    assert scales["bert.embeddings.word_embeddings.weight"] == 0.125
    assert scales["classifier.weight"] == scales["classifier.bias"] == 10.0
    assert set(scales) == {n for n, _ in model.named_parameters()}
    groups = param_groups(model, TrainConfig(lr=1e-3, weight_decay=0.1, layer_lr_decay=0.5, head_lr_scale=10.0))
    assert sum(len(g["params"]) for g in groups) == len(scales)
    for group in groups:  # biases and LayerNorm weights are never decayed
        assert all((p.dim() >= 2) == (group["weight_decay"] == 0.1) for p in group["params"])
    assert sorted({g["lr"] for g in groups}) == pytest.approx([1.25e-4, 2.5e-4, 5e-4, 1e-3, 1e-2])
    plain = lr_scales(model, layer_decay=1.0, head_scale=1.0)
    assert set(plain.values()) == {1.0}  # the defaults change nothing


def test_moving_average_is_what_gets_evaluated_and_returned():
    torch.manual_seed(0)
    model, decay = Regression(), 0.6
    weights, evaluated = [], []

    def loss_fn(m, batch):
        weights.append(m.linear.weight.item())  # the weights after the previous step
        return m(**batch).loss

    def evaluate(m):
        evaluated.append(m.linear.weight.item())
        assert m is not model, "the average is a separate copy"
        return {"step_weight": m.linear.weight.item()}

    cfg = TrainConfig(lr=0.1, max_steps=6, eval_every=1, ema_decay=decay)
    fit(model, loader(), cfg, evaluate, loss_fn=loss_fn, progress=False)
    expected = weights[1]  # the first update copies the weights, later ones average
    for step in range(1, 6):
        if step > 1:
            expected = decay * expected + (1 - decay) * weights[step]
        assert evaluated[step - 1] == pytest.approx(expected)
    assert model.linear.weight.item() == pytest.approx(evaluated[-1])  # the run returns the average
    assert evaluated[-1] != pytest.approx(weights[-1])


BAD_OPTIONS = [{"ema_decay": 1.0}, {"ema_decay": 0.0}, {"layer_lr_decay": 0.0}, {"head_lr_scale": -1.0}]


@pytest.mark.parametrize("bad", BAD_OPTIONS)
def test_bad_fine_tuning_options_are_refused_by_name(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        TrainConfig(lr=1e-3, **bad)


def test_best_weights_are_the_trainable_parameters_only():
    from course_utils.train import restore_trainable, trainable_state

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    model[0].requires_grad_(False)  # a frozen base, as in PEFT (or a 4-bit base with its quantization state)
    best = trainable_state(model)
    assert set(best) == {"1.weight", "1.bias"}
    frozen = model[0].weight.detach().clone()
    with torch.no_grad():
        model[1].weight.add_(1.0)
    restore_trainable(model, best)
    assert torch.equal(model[1].weight, best["1.weight"]) and torch.equal(model[0].weight, frozen)
    with pytest.raises(KeyError, match="not parameters of Sequential"):
        restore_trainable(model, {"2.weight": torch.zeros(1)})


class Tagger(torch.nn.Module):
    """Three scores per token; the loss is the mean over labelled tokens, as in transformers' token classifiers."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)

    def forward(self, x, labels):
        loss = torch.nn.functional.cross_entropy(self.linear(x).flatten(0, 1), labels.flatten(), ignore_index=-100)
        return type("Out", (), {"loss": loss})


def tagged_batches():
    torch.manual_seed(0)
    x, labels = torch.randn(8, 5, 4), torch.randint(3, (8, 5))
    labels[:4, 2:] = -100  # shorter sentences first: the micro-batches hold 4, 4, 10 and 10 labelled tokens
    micro = [{"x": x[i : i + 2], "labels": labels[i : i + 2]} for i in range(0, 8, 2)]
    return micro, {"x": x, "labels": labels}


def gradient(model, group):
    model.zero_grad()
    backward_step(model, group, default_loss, torch.float32, torch.amp.GradScaler("cpu", enabled=False))
    return model.linear.weight.grad.clone()


def test_accumulated_micro_batches_give_the_gradient_of_the_whole_batch():
    micro, whole = tagged_batches()
    model = Tagger()
    expected = gradient(model, [whole])
    assert torch.allclose(gradient(model, micro), expected, atol=1e-6)
    model.zero_grad()
    for batch in micro:  # the common recipe, each mean / k, weighs a short sentence's tokens more
        (default_loss(model, batch) / len(micro)).backward()
    assert not torch.allclose(model.linear.weight.grad, expected, atol=1e-3)


def test_accumulation_counts_optimizer_steps_and_refuses_zero():
    cfg = TrainConfig(lr=0.1, num_epochs=2, accumulation_steps=3)
    history = fit(Regression(), loader(64, 8), cfg, progress=False)
    assert len(history.steps) == 2 * 3  # 8 batches an epoch: groups of 3, 3 and 2
    with pytest.raises(ValueError, match="accumulation_steps"):
        TrainConfig(lr=0.1, accumulation_steps=0)


def test_gradient_checkpointing_changes_memory_not_the_result():
    from transformers import BertConfig, BertForTokenClassification

    sizes = {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32}
    config = BertConfig(vocab_size=50, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **sizes)
    torch.manual_seed(0)
    batch = {"input_ids": torch.randint(50, (4, 7)), "labels": torch.randint(2, (4, 7))}
    weights = []
    for checkpointing in (False, True):
        torch.manual_seed(1)
        model = BertForTokenClassification(config)
        cfg = TrainConfig(lr=1e-2, max_steps=3, gradient_checkpointing=checkpointing, mixed_precision=False)
        fit(model, [batch], cfg, progress=False)
        assert model.is_activation_checkpointing == checkpointing
        weights.append(model.classifier.weight.detach())
    assert torch.allclose(*weights, atol=1e-6)
    with pytest.raises(TypeError, match="gradient_checkpointing=True needs a transformers model"):
        fit(Regression(), loader(), TrainConfig(lr=0.1, max_steps=1, gradient_checkpointing=True), progress=False)


def test_bad_input_a_checkpoint_of_another_run_is_named(tmp_path):
    fit(Regression(), loader(), TrainConfig(lr=0.05, max_steps=2, checkpoint_every=1, checkpoint_dir=tmp_path))
    other = torch.nn.Sequential(torch.nn.Linear(3, 2))
    other.forward = lambda x, y: None  # never reached: the checkpoint is refused first
    with pytest.raises(ValueError, match="(?s)step-00000002 does not fit this model.*another run"):
        fit(other, loader(), TrainConfig(lr=0.05, max_steps=4, checkpoint_dir=tmp_path), progress=False)
    with pytest.raises(ValueError, match=r"has no \['ema'\] weights.*ema_decay"):
        fit(Regression(), loader(), TrainConfig(lr=0.05, max_steps=4, ema_decay=0.9, checkpoint_dir=tmp_path))


def test_cosine_schedule_is_nanogpts():
    from course_utils.train import cosine_warmup_decay

    f = cosine_warmup_decay(warmup_steps=10, total_steps=110, min_ratio=0.1)
    assert f(0) == pytest.approx(1 / 11) and f(9) == pytest.approx(10 / 11)
    assert f(10) == pytest.approx(1.0) and f(60) == pytest.approx(0.55) and f(110) == pytest.approx(0.1)
    assert f(500) == pytest.approx(0.1)
