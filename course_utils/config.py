"""Profiles (`smoke`, `cpu`, `full`) and the one frozen config dataclass per chapter."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Generic, TypeVar

import torch

PROFILES = ("smoke", "cpu", "full")
OFFLINE_PROFILES = ("smoke", "cpu")
PROFILE_HELP = {
    "smoke": "CI: tiny data and models, seconds per notebook",
    "cpu": "a laptop without a GPU: the embedded MiniLM encoder and local data, minutes",
    "full": "a CUDA GPU: bert-base-cased and CoNLL-2003 from the Hugging Face Hub",
}

T = TypeVar("T")


def get_profile() -> str:
    """The active profile: `COURSE_PROFILE`, else `full` with CUDA and `cpu` without."""
    value = os.environ.get("COURSE_PROFILE", "").strip().lower()
    if not value:
        return "full" if torch.cuda.is_available() else "cpu"
    if value not in PROFILES:
        choices = ", ".join(f"{name} ({PROFILE_HELP[name]})" for name in PROFILES)
        raise ValueError(
            f"COURSE_PROFILE={value!r} is not a profile. Choose one of: {choices}; "
            "or unset it to pick full with a CUDA GPU and cpu without."
        )
    return value


def apply_profile_environment(profile: str | None = None) -> None:
    """In the offline profiles, tell every Hugging Face library never to touch the network."""
    if (profile or get_profile()) in OFFLINE_PROFILES:
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ[name] = "1"
        # Read at import time by huggingface_hub: already-imported copies need the flag too.
        try:
            import huggingface_hub.constants as hub_constants
        except ImportError:  # pragma: no cover - huggingface_hub is a requirement
            return
        hub_constants.HF_HUB_OFFLINE = True


@dataclass(frozen=True)
class Profiles(Generic[T]):
    """One chapter's config in the three profiles, side by side."""

    smoke: T
    cpu: T
    full: T

    def pick(self, profile: str | None = None) -> T:
        """The config of `profile` (default: the active profile)."""
        name = profile or get_profile()
        if name not in PROFILES:
            raise ValueError(f"profile={name!r} is not one of {', '.join(PROFILES)}")
        return getattr(self, name)


# --- Chapter 01: the environment check ------------------------------------------------------


@dataclass(frozen=True)
class EnvCheckConfig:
    """Chapter 01: sizes of the matmul benchmark."""

    matmul_size: int  # n of the (n, n) @ (n, n) product
    repeats: int  # timed runs after one warm-up; the best is reported


ENV_CHECK = Profiles(
    smoke=EnvCheckConfig(matmul_size=256, repeats=3),
    cpu=EnvCheckConfig(matmul_size=1024, repeats=5),
    full=EnvCheckConfig(matmul_size=4096, repeats=20),
)
