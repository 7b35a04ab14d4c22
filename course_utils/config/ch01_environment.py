"""Chapter 01's config: the sizes of the matmul benchmark."""

from __future__ import annotations

from dataclasses import dataclass

from course_utils.config.profiles import Checked, Profiles, at_least


@dataclass(frozen=True)
class EnvCheckConfig(Checked):
    """Chapter 01: sizes of the matmul benchmark."""

    matmul_size: int = at_least(1)  # n of the (n, n) @ (n, n) product
    repeats: int = at_least(1)  # timed runs after one warm-up; the best is reported


ENV_CHECK = Profiles(
    smoke=EnvCheckConfig(matmul_size=256, repeats=3),
    cpu=EnvCheckConfig(matmul_size=1024, repeats=5),
    full=EnvCheckConfig(matmul_size=4096, repeats=20),
)
