"""Data-parallel fine-tuning with PyTorch's DistributedDataParallel: one process per device, launched by torchrun.

Run it as `torchrun --standalone --nproc-per-node N -m course_utils.distributed --out DIR` (or through `launch`):
each process fine-tunes the profile's NER model on its share of every batch; DDP averages the gradients, the
shared loop weighs each share by its labelled tokens, and rank 0 alone writes the weights and a report.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from course_utils.train import TrainConfig, backward_step, default_loss, fit

REPORT = "report.json"
WEIGHTS = "model.safetensors"


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes, from torchrun's environment ((0, 1) outside it)."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def start() -> torch.device:
    """Join torchrun's process group (NCCL between GPUs, gloo on CPUs); return this process's device."""
    if "RANK" not in os.environ:
        raise RuntimeError("not started by torchrun: run `torchrun --nproc-per-node N -m course_utils.distributed`")
    if torch.cuda.is_available():
        local_rank = int(os.environ["LOCAL_RANK"])
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"process {local_rank} has no GPU of its own ({torch.cuda.device_count()} visible): "
                "start at most one process per GPU, or launch(..., cpu=True)"
            )
        device = torch.device("cuda", local_rank)  # one GPU per process
        torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl", device_id=device)
        return device
    torch.distributed.init_process_group("gloo")
    return torch.device("cpu")


def sharded_loader(
    dataset, batch_size: int, collate, seed: int
) -> torch.utils.data.DataLoader:
    """This process's share of every global batch of `batch_size` rows: one shuffle
    (seeded, the same in every process), every world-th row to each process."""
    rank, world = rank_and_world()
    if batch_size % world:
        raise ValueError(
            f"the global batch of {batch_size} rows does not split evenly over "
            f"{world} processes"
        )
    sampler = torch.utils.data.DistributedSampler(
        dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed
    )
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size // world, sampler=sampler, collate_fn=collate
    )


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """The largest |a - b| over every tensor the two dicts share by name."""
    return max(float((a[name] - b[name]).abs().max()) for name in a)


def gradients(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Copies of the model's .grad, by parameter name."""
    return {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}


def gradient_check(model: torch.nn.Module, ddp_model, loader, collate, seed: int) -> dict[str, float]:
    """Rank 0: the DDP gradient of the first global batch against one process's gradient of the whole batch,
    and against the average of each share's mean loss (what plain averaging gives); every rank takes part."""
    rank, world = rank_and_world()
    reference = copy.deepcopy(model)  # before any step: the same weights
    scaler = torch.amp.GradScaler(enabled=False)
    backward_step(ddp_model, [next(iter(loader))], default_loss, torch.float32, scaler)
    result = {}
    if rank == 0:
        ddp_grad = gradients(model)
        shares = []  # every rank's rows of batch 0: its sampler's first batch_size indices
        for r in range(world):
            sampler = torch.utils.data.DistributedSampler(loader.dataset, world, r, shuffle=True, seed=seed)
            shares.append([loader.dataset[i] for i in list(sampler)[: loader.batch_size]])
        device = next(model.parameters()).device

        def batch_of(rows: list[dict]) -> dict[str, torch.Tensor]:
            return {k: v.to(device) for k, v in collate(rows).items()}

        reference.zero_grad()
        default_loss(reference, batch_of([row for share in shares for row in share])).backward()
        whole_grad = gradients(reference)
        reference.zero_grad()
        for share in shares:  # plain averaging: each share's mean, divided by the number of shares
            (default_loss(reference, batch_of(share)) / world).backward()
        result = {
            "ddp_vs_whole_batch": max_difference(ddp_grad, whole_grad),
            "share_means_vs_whole_batch": max_difference(gradients(reference), whole_grad),
        }
    model.zero_grad(set_to_none=True)
    return result


def fine_tune(args: argparse.Namespace) -> dict:
    """Fine-tune the profile's NER model for `args.steps` steps of `args.batch_size` rows over the processes."""
    from transformers import AutoTokenizer

    from course_utils import ner, ner_data
    from course_utils.config import NER
    from course_utils.resources import from_pretrained

    rank, world = rank_and_world()
    device = start()
    cfg = NER.pick()
    tokenizer = from_pretrained(AutoTokenizer)
    data = ner_data.prepare_ner_data(cfg, tokenizer)
    no_dropout = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}  # the same in every layout
    model = ner.new_token_classifier(args.seed, quiet=True, **no_dropout).to(device)
    ddp_model = torch.nn.parallel.DistributedDataParallel(model)  # copies rank 0's weights to every rank
    loader = sharded_loader(data.tokenized["train"], args.batch_size, data.collate, args.seed)
    report = {"world": world, "device": device.type, "backend": torch.distributed.get_backend()}
    report |= gradient_check(model, ddp_model, loader, data.collate, args.seed)
    cfg_loop = TrainConfig(lr=cfg.lr, max_steps=args.steps, mixed_precision=False)  # fp32: comparable layouts
    start_time = time.perf_counter()
    history = fit(ddp_model, loader, cfg_loop, device=device, progress=rank == 0)
    report |= {"seconds": time.perf_counter() - start_time, "losses": [row["loss"] for row in history.steps]}
    if rank == 0:  # one writer: every rank holds the same weights
        from safetensors.torch import save_file

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, out / WEIGHTS)
        (out / REPORT).write_text(json.dumps(report, indent=1))
    torch.distributed.destroy_process_group()
    return report


def launch(nproc: int, out: Path, steps: int, batch_size: int, seed: int = 0, cpu: bool = False) -> dict:
    """Run this module under torchrun with `nproc` processes on this machine; return rank 0's report.
    `cpu`: hide the GPUs (gloo on the CPU), e.g. to rehearse two processes on a one-GPU machine."""
    command = [
        sys.executable, "-m", "torch.distributed.run",  # the `torchrun` command, from this Python
        "--standalone", f"--nproc-per-node={nproc}",
        "-m", "course_utils.distributed",
        f"--out={out}", f"--steps={steps}", f"--batch-size={batch_size}", f"--seed={seed}",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // nproc))}  # share the cores
    env.setdefault("GLOO_SOCKET_IFNAME", "lo0" if sys.platform == "darwin" else "lo")  # one machine: loopback
    if cpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"torchrun with {nproc} processes failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads((Path(out) / REPORT).read_text())


def main(argv: list[str] | None = None) -> None:
    """The command line that torchrun starts in every process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for rank 0's weights and report")
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=16, help="rows per step, over all processes")
    parser.add_argument("--seed", type=int, default=0, help="the new head's initialisation and the shuffle")
    fine_tune(parser.parse_args(argv))


if __name__ == "__main__":
    main()
