"""Data-parallel training: DDP over 2 gloo processes gives one process's gradient and weights."""

import pytest
import torch
from safetensors.torch import load_file

from course_utils import distributed


def test_the_shares_of_a_global_batch_are_one_process_batch(monkeypatch):
    rows = list(range(40))
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    whole = next(iter(distributed.sharded_loader(rows, 8, lambda b: b, seed=3)))
    shares = []
    for rank in (0, 1):
        monkeypatch.setenv("WORLD_SIZE", "2")
        monkeypatch.setenv("RANK", str(rank))
        shares += next(iter(distributed.sharded_loader(rows, 8, lambda b: b, seed=3)))
    assert sorted(shares) == sorted(whole) and len(whole) == 8
    with pytest.raises(ValueError, match="does not split evenly over 2 processes"):
        distributed.sharded_loader(rows, 7, lambda b: b, seed=3)


def test_outside_torchrun_the_error_says_how_to_start(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(RuntimeError, match="torchrun --nproc-per-node"):
        distributed.start()


def test_two_gloo_processes_match_one_process(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    one = distributed.launch(1, tmp_path / "one", steps=3, batch_size=8)
    two = distributed.launch(2, tmp_path / "two", steps=3, batch_size=8)
    assert one["world"] == 1 and two["world"] == 2 and two["backend"] == "gloo"
    assert two["ddp_vs_whole_batch"] < 1e-5  # weighted by labelled tokens: the same gradient
    assert two["share_means_vs_whole_batch"] > 100 * two["ddp_vs_whole_batch"]  # plain averaging is not
    weights = [load_file(tmp_path / run / distributed.WEIGHTS) for run in ("one", "two")]
    assert distributed.max_difference(*weights) < 1e-4
    assert torch.allclose(torch.tensor(one["losses"]), torch.tensor(two["losses"]), atol=1e-4)
