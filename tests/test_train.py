import pytest
import torch

from course_utils.train import TrainConfig, linear_warmup_decay, train


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
    history = train(model, loader(), TrainConfig(lr=0.1, num_epochs=30, warmup_steps=5), evaluate, progress=False)
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
    history = train(model, loader(), cfg, evaluate, progress=False)
    assert history.best["step"] == 2 and model.linear.weight.item() == snapshots[1]
    assert all(row["grad_norm"] > 1e-3 for row in history.steps)  # the norm before clipping is reported


def test_time_budget_and_checkpoint_resume(tmp_path):
    torch.manual_seed(0)
    model = Regression()
    cfg = TrainConfig(lr=0.05, max_steps=6, eval_every=3, checkpoint_dir=tmp_path)
    train(model, loader(), cfg, lambda m: {}, progress=False)
    assert (tmp_path / "model.safetensors").is_file()
    resumed = Regression()
    history = train(resumed, loader(), TrainConfig(lr=0.05, max_steps=8, checkpoint_dir=tmp_path), progress=False)
    assert len(history.steps) == 2  # continued from step 6
    stopped = train(Regression(), loader(), TrainConfig(lr=0.1, num_epochs=1000, time_budget_s=0.0), progress=False)
    assert len(stopped.steps) == 1
