"""Checkpoints a run can be resumed from as if it had never stopped.

A checkpoint is one folder, `step-00000123/`: tensors as safetensors (the model, the weight average, the best
weights so far), everything else (optimizer, scheduler, loss scaler, history, every random generator, where the
epoch had got to) in `trainer_state.pt`, read back with `torch.load(weights_only=True)`. It is written under a
temporary name and renamed into place, so a crash while writing leaves the previous checkpoint as it was; only
the newest `keep` are kept.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

STATE_FILE = "trainer_state.pt"
_STEP = re.compile(r"step-(\d{8})")


def step_dir(directory: Path, step: int) -> Path:
    """Where the checkpoint of `step` lives."""
    return Path(directory) / f"step-{step:08d}"


# --- random generators ----------------------------------------------------------------------------------


def rng_state() -> dict:
    """The state of every global random generator: torch (CPU and each GPU), Python's `random`, NumPy's."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": pos,
            "has_gauss": has_gauss,
            "cached": cached,
        },
    }


def set_rng_state(state: dict) -> None:
    """Put every global random generator back where `rng_state` found it."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))


def _loader_parts(loader) -> dict[str, object]:
    """The parts of a DataLoader that carry state between epochs: sampler, batch sampler, collator, itself."""
    parts = {"loader": loader}
    for name in ("sampler", "batch_sampler", "collate_fn"):
        part = getattr(loader, name, None)
        if part is not None:
            parts[name] = part
    return parts


def loader_state(loader) -> dict:
    """What decides a loader's next epoch: each part's own torch.Generator and epoch counter."""
    state = {}
    for name, part in _loader_parts(loader).items():
        generator, epoch = getattr(part, "generator", None), getattr(part, "epoch", None)
        if isinstance(generator, torch.Generator):
            state[f"{name}.generator"] = generator.get_state()
        if isinstance(epoch, int):
            state[f"{name}.epoch"] = epoch
    return state


def set_loader_state(loader, state: dict) -> None:
    """Put a loader's generators and epoch counters back where `loader_state` found them."""
    parts = _loader_parts(loader)
    for key, value in state.items():
        name, attribute = key.rsplit(".", 1)
        if name not in parts:
            raise ValueError(
                f"the checkpoint's data loader had a {name!r}; this one has none: resume with the same data"
            )
        if attribute == "generator":
            parts[name].generator.set_state(value)
        else:
            setattr(parts[name], attribute, value)


# --- writing and reading --------------------------------------------------------------------------------


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(directory: Path, step: int, tensors: dict[str, dict[str, torch.Tensor]], state: dict, keep: int = 2) -> Path:
    """Write `step`'s checkpoint atomically, then delete all but the newest `keep`; return its folder."""
    if keep < 1:
        raise ValueError(f"keep={keep}: keep at least 1 checkpoint")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = step_dir(directory, step)
    partial = directory / f".partial-{final.name}-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    for name, group in tensors.items():  # copies: safetensors refuses tensors that share memory (tied weights)
        save_file(
            {k: v.detach().to("cpu", copy=True).contiguous() for k, v in group.items()}, partial / f"{name}.safetensors"
        )
    torch.save(state, partial / STATE_FILE)
    for file in partial.iterdir():
        _fsync(file)
    if final.exists():  # the same step saved twice (an eval and a periodic save): the new one wins
        old = directory / f".old-{final.name}-{os.getpid()}"
        final.rename(old)
        shutil.rmtree(old)
    partial.rename(final)  # atomic: a reader sees the old set of checkpoints or the new one, never half of one
    _fsync(directory)
    for stale in checkpoints(directory)[:-keep]:
        shutil.rmtree(stale)
    return final


def checkpoints(directory: Path) -> list[Path]:
    """The complete checkpoints in `directory`, oldest first (folders being written are skipped)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if _STEP.fullmatch(p.name) and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: int(_STEP.fullmatch(p.name).group(1)))


def latest(directory: Path | None) -> Path | None:
    """The newest complete checkpoint in `directory`, or None."""
    found = checkpoints(directory) if directory is not None else []
    return found[-1] if found else None


def load(path: Path) -> tuple[dict[str, dict[str, torch.Tensor]], dict]:
    """(tensors by file name, state) of one checkpoint folder; a damaged file is named with what to do."""
    path = Path(path)
    advice = f"delete {path} to resume from the checkpoint before it (or the whole folder to start over)"
    tensors = {}
    for file in sorted(path.glob("*.safetensors")):
        try:
            tensors[file.stem] = load_file(file)
        except (SafetensorError, OSError) as err:
            raise ValueError(f"checkpoint file {file} is damaged ({err}): {advice}") from err
    try:
        state = torch.load(path / STATE_FILE, weights_only=True)
    except Exception as err:  # a truncated pickle raises EOFError, UnpicklingError, RuntimeError ...
        raise ValueError(
            f"checkpoint file {path / STATE_FILE} is damaged ({type(err).__name__}: {err}): {advice}"
        ) from err
    return tensors, state
