"""Checkpoints: written atomically, a bounded number kept, damage named, and a killed run resumed to the same result."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from course_utils import checkpoint

ROOT = Path(__file__).resolve().parent.parent


def test_random_generators_come_back():
    state = checkpoint.rng_state()
    first = (torch.rand(3), random.random(), np.random.rand())
    checkpoint.set_rng_state(state)
    again = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(first[0], again[0]) and first[1:] == again[1:]


def test_loader_state_restores_the_collators_generator_and_the_samplers_epoch():
    class Collate:
        def __init__(self):
            self.generator = torch.Generator().manual_seed(0)

        def __call__(self, rows):
            return torch.stack(rows) + torch.rand(len(rows), generator=self.generator)

    loader = torch.utils.data.DataLoader([torch.tensor(float(i)) for i in range(6)], batch_size=2, collate_fn=Collate())
    loader.batch_sampler.epoch = 3  # a sampler with an epoch counter (LengthGroupedSampler has one)
    state = checkpoint.loader_state(loader)
    first = [b.tolist() for b in loader]
    loader.batch_sampler.epoch = 9
    checkpoint.set_loader_state(loader, state)
    assert [b.tolist() for b in loader] == first and loader.batch_sampler.epoch == 3


def test_save_keeps_the_newest_and_ignores_half_written_folders(tmp_path):
    for step in (1, 2, 3):
        checkpoint.save(tmp_path, step, {"model": {"w": torch.full((2,), float(step))}}, {"step": step}, keep=2)
    assert [p.name for p in checkpoint.checkpoints(tmp_path)] == ["step-00000002", "step-00000003"]
    (tmp_path / ".partial-step-00000004-123").mkdir()  # a crash while writing step 4
    (tmp_path / "step-00000005").mkdir()  # a folder without its state file
    assert checkpoint.latest(tmp_path).name == "step-00000003"
    tensors, state = checkpoint.load(checkpoint.latest(tmp_path))
    assert state == {"step": 3} and tensors["model"]["w"].tolist() == [3.0, 3.0]


def test_tied_weights_are_saved(tmp_path):
    shared = torch.randn(4, 2)
    path = checkpoint.save(tmp_path, 1, {"model": {"a": shared, "b": shared}}, {})
    assert torch.equal(load_file(path / "model.safetensors")["b"], shared)


@pytest.mark.parametrize("damaged", ["model.safetensors", checkpoint.STATE_FILE])
def test_a_damaged_checkpoint_is_named_with_what_to_do(tmp_path, damaged):
    path = checkpoint.save(tmp_path, 7, {"model": {"w": torch.ones(1000)}}, {"step": 7})
    data = (path / damaged).read_bytes()
    (path / damaged).write_bytes(data[: len(data) // 2])  # truncated, as by a full disk
    with pytest.raises(ValueError, match=rf"{damaged}.*damaged.*delete .*step-00000007"):
        checkpoint.load(path)


def test_bad_keep_is_named(tmp_path):
    with pytest.raises(ValueError, match="keep=0"):
        checkpoint.save(tmp_path, 1, {}, {}, keep=0)


# --- a real training process, killed and resumed --------------------------------------------------------

RUN = """
import json, sys, time
import torch
from course_utils.train import TrainConfig, fit

class Noisy:  # a collator with its own generator, as chapter 02's masking has
    def __init__(self):
        self.generator = torch.Generator().manual_seed(1)
    def __call__(self, rows):
        x = torch.stack([r[0] for r in rows])
        return {"x": x + 0.01 * torch.randn(x.shape, generator=self.generator), "y": torch.stack([r[1] for r in rows])}

class Net(torch.nn.Module):  # dropout draws from the global generator at every step
    def __init__(self):
        super().__init__()
        layers = [torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 1)]
        self.body = torch.nn.Sequential(*layers)
    def forward(self, x, y):
        time.sleep(0.01)  # slow enough to be killed mid-run
        return type("Out", (), {"loss": torch.nn.functional.mse_loss(self.body(x), y)})

torch.manual_seed(0)
data = [(torch.randn(4), torch.randn(1)) for _ in range(40)]
loader = torch.utils.data.DataLoader(data, batch_size=8, shuffle=True, collate_fn=Noisy())
model = Net()
def evaluate(m):
    with torch.no_grad():
        return {"loss": float(sum(torch.nn.functional.mse_loss(m.body(x), y) for x, y in data))}
cfg = TrainConfig(lr=1e-2, num_epochs=12, warmup_steps=5, ema_decay=0.9, eval_every=7, best_metric="loss",
                  best_mode="min", checkpoint_dir=sys.argv[1], checkpoint_every=1, keep_checkpoints=2)
history = fit(model, loader, cfg, evaluate, progress=False)
torch.save(model.state_dict(), sys.argv[2])
json.dump({"steps": history.steps, "evals": history.evals, "best": history.best}, open(sys.argv[3], "w"))
"""


def run_training(tmp_path: Path, name: str, kill_after_step: int | None = None) -> tuple[dict, dict]:
    """Train in a fresh process; with kill_after_step, SIGKILL it once that step's checkpoint exists, then resume."""
    ckpt, weights, record = tmp_path / f"{name}-ckpt", tmp_path / f"{name}.pt", tmp_path / f"{name}.json"
    command = [sys.executable, "-c", RUN, str(ckpt), str(weights), str(record)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if kill_after_step is not None:
        process = subprocess.Popen(command, env=env)
        deadline = time.monotonic() + 120
        while (latest := checkpoint.latest(ckpt)) is None or int(latest.name[5:]) < kill_after_step:
            assert process.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)  # not asked politely: no handler runs
        process.wait()
        assert not weights.exists(), "the run was killed before it finished"
    subprocess.run(command, env=env, check=True, timeout=300)
    return torch.load(weights, weights_only=True), json.loads(record.read_text())


def test_a_killed_run_resumes_to_the_same_weights_and_history(tmp_path):
    straight_weights, straight = run_training(tmp_path, "straight")
    for kill_after in (3, 23):  # inside the first epoch; in a later one, after an evaluation chose a best
        weights, history = run_training(tmp_path, f"killed-{kill_after}", kill_after_step=kill_after)
        assert all(torch.equal(weights[k], straight_weights[k]) for k in straight_weights), "bitwise on CPU"
        assert [s["loss"] for s in history["steps"]] == [s["loss"] for s in straight["steps"]]
        assert history["evals"] == straight["evals"] and history["best"] == straight["best"]
        assert len(checkpoint.checkpoints(tmp_path / f"killed-{kill_after}-ckpt")) == 2
