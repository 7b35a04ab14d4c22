"""The profiles (`smoke`, `cpu`, `full`), picking one, and config fields whose ranges are declared."""

from __future__ import annotations

import math
import os
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, Generic, TypeVar

PROFILES = ("smoke", "cpu", "full")
OFFLINE_PROFILES = ("smoke", "cpu")
PROFILE_HELP = {
    "smoke": "CI: tiny data and models, seconds per notebook",
    "cpu": "a laptop without a GPU: the embedded MiniLM encoder and local data, minutes",
    "full": "a CUDA GPU: bert-base-cased and CoNLL-2003 from the Hugging Face Hub",
}

T = TypeVar("T")


def _cuda_available() -> bool:
    """Whether PyTorch sees a CUDA GPU (imported here only: the configs themselves need no torch)."""
    import torch

    return torch.cuda.is_available()


def get_profile() -> str:
    """The active profile: `COURSE_PROFILE`, else `full` with CUDA and `cpu` without."""
    value = os.environ.get("COURSE_PROFILE", "").strip().lower()
    if not value:
        return "full" if _cuda_available() else "cpu"
    if value not in PROFILES:
        choices = ", ".join(f"{name} ({PROFILE_HELP[name]})" for name in PROFILES)
        raise ValueError(
            f"COURSE_PROFILE={value!r} is not a profile. Choose one of: {choices}; "
            "or unset it to pick full with a CUDA GPU and cpu without."
        )
    return value


def get_sizes() -> str:
    """Whose sizes the chapter configs use: `COURSE_SIZES` if set, else the active profile's own.

    The full-profile rehearsal of `make test` runs `full`'s code path at `smoke`'s sizes this way.
    """
    value = os.environ.get("COURSE_SIZES", "").strip().lower()
    if not value:
        return get_profile()
    if value not in PROFILES:
        raise ValueError(f"COURSE_SIZES={value!r} is not a profile: use one of {', '.join(PROFILES)}, or unset it")
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
        """The config of `profile` (default: the active sizes, see `get_sizes`)."""
        name = profile or get_sizes()
        if name not in PROFILES:
            raise ValueError(f"profile={name!r} is not one of {', '.join(PROFILES)}")
        return getattr(self, name)


# --- fields with their range ---------------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    """A field's allowed values: a closed or open interval for numbers (each element of a tuple), or choices."""

    low: float | None = None  # at least this
    high: float | None = None  # at most this
    above: float | None = None  # more than this
    below: float | None = None  # less than this
    choices: tuple[Any, ...] | None = None  # one of these
    min_items: int = 0  # a tuple field: at least this many values

    def problem(self, v: Any) -> str | None:
        """What is wrong with the value `v`, or None."""
        if self.choices is not None:
            return None if v in self.choices else f"must be one of {', '.join(map(repr, self.choices))}"
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return f"must be a number, not {type(v).__name__}"
        if not math.isfinite(v):
            return "must be a finite number"
        if self.low == 0 and self.high == 1 and not 0 <= v <= 1:
            return "a share, must be between 0 and 1"
        if self.low is not None and v < self.low:
            return f"must be at least {self.low:g}"
        if self.high is not None and v > self.high:
            return f"must be at most {self.high:g}"
        if self.above is not None and v <= self.above:
            return f"must be above {self.above:g}"
        if self.below is not None and v >= self.below:
            return f"must be below {self.below:g}"
        return None


def bounded(default: Any = MISSING, **bounds: Any) -> Any:
    """A config field with its range declared: `low`, `high`, `above`, `below` or `choices` (see Bounds)."""
    extra = {} if default is MISSING else {"default": default}
    return field(metadata={"bounds": Bounds(**bounds)}, **extra)


def at_least(least: int | float, default: Any = MISSING) -> Any:
    """A count or amount of at least `least` (None, where the type allows it, means "none" or "all")."""
    return bounded(default, low=least)


def positive(default: Any = MISSING) -> Any:
    """A number above 0: a learning rate, a temperature, a scale."""
    return bounded(default, above=0)


def share(default: Any = MISSING) -> Any:
    """A fraction in [0, 1]."""
    return bounded(default, low=0, high=1)


def one_of(*choices: Any, default: Any = MISSING) -> Any:
    """One of a few named values."""
    return bounded(default, choices=choices)


def _values(value: Any) -> tuple[Any, ...]:
    """The values a field holds: each element of a tuple, nothing for None."""
    if value is None:
        return ()
    return value if isinstance(value, tuple) else (value,)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_ranges(cfg: Any) -> None:
    """Refuse a value outside its field's declared range, naming the field, the value and the fix; a number in a
    field that declares no range is refused too, so that no value goes unchecked."""
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        bounds: Bounds | None = f.metadata.get("bounds")
        where = f"{type(cfg).__name__}.{f.name}={value!r}"
        fix = f"change it with dataclasses.replace(cfg, {f.name}=...)"
        if bounds is not None and isinstance(value, tuple) and len(value) < bounds.min_items:
            raise ValueError(f"{where}: needs at least {bounds.min_items} value(s); {fix}")
        for v in _values(value):
            if bounds is None:
                if _is_number(v):
                    raise TypeError(f"{where}: the field declares no range; declare one (config/profiles.py)")
                continue
            if (problem := bounds.problem(v)) is not None:
                raise ValueError(f"{where}: {problem}; {fix}")


def declared(cls: type) -> dict[str, Field]:
    """The fields of a config class, by name."""
    return {f.name: f for f in fields(cls)}


class Checked:
    """Base of every config: values are range-checked when made, `replace` included."""

    def __post_init__(self) -> None:
        check_ranges(self)
