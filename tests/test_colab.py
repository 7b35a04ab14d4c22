"""The Colab set-up: the chapters' first cell run as on Colab, offline, with a fake `google.colab`."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from course_utils import colab

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
COLAB_DIR = "/content/course"


def first_code_cell(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


def test_install_command_is_editable_with_extras_and_constraints(tmp_path):
    command = colab.install_command(tmp_path / "course_utils", gpu=True, constraints=tmp_path / "c.txt")
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert f"{tmp_path / 'course_utils'}[offline,gpu]" in command
    assert command[command.index("-c") + 1] == str(tmp_path / "c.txt")
    assert colab.extras(gpu=False) == "offline", "a CPU runtime needs the embedded encoder, not bitsandbytes"


def test_the_runtimes_pytorch_is_held_where_it_is():
    import torch

    assert colab.keep_installed() == f"torch=={torch.__version__}\n"
    assert colab.keep_installed(("no-such-package-here",)) == ""


def test_a_package_pip_changed_after_it_was_imported_asks_for_a_restart():
    before = {"numpy": "2.0.2", "transformers": "4.57.0", "peft": "0.17.0"}
    after = {"numpy": "2.4.6", "transformers": "5.23.0", "peft": "0.17.0", "seqeval": "1.2.2"}
    owners = {"numpy": ["numpy"], "transformers": ["transformers"], "peft": ["peft"]}
    assert colab.stale_imports(before, after, {"numpy", "numpy.linalg", "peft"}, owners) == ["numpy"]
    assert colab.stale_imports(before, after, {"json"}, owners) == []


def test_every_chapter_installs_through_colab_setup_naming_its_chapter():
    for path in NOTEBOOKS:
        cell = first_code_cell(path)
        assert f'Path("{COLAB_DIR}")' in cell and "from course_utils.colab import setup" in cell, path.name
        assert f'setup(course, chapter="{path.name[:2]}")' in cell, f"{path.name}: setup reads the registry"
        assert "!" not in cell.replace("!=", "") and "%pip" not in cell, f"{path.name}: plain Python only"


FAKE_COLAB = {
    "google/__init__.py": "",
    "google/colab/__init__.py": "",
    "google/colab/drive.py": textwrap.dedent('''
        import os
        from pathlib import Path


        def mount(mountpoint):
            """What Colab does after the learner agrees: the Drive appears under mountpoint."""
            if os.environ.get("FAKE_DRIVE_DECLINE"):
                raise ValueError("mount failed: the learner declined")
            (Path(mountpoint) / "MyDrive").mkdir(parents=True, exist_ok=True)
    '''),
}


@pytest.fixture(scope="module")
def colab_machine(tmp_path_factory):
    """A fresh Python (a venv that sees this one's packages), the course as a git remote, fake google.colab."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    base = tmp_path_factory.mktemp("colab")
    remote = base / "remote"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.split()
    for name in listed:
        if (ROOT / name).is_file():
            (remote / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, remote / name)
    git = ["git", "-c", "user.name=course", "-c", "user.email=course@localhost"]
    for step in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "course"]):
        subprocess.run(git + step, cwd=remote, check=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(base / "venv")], check=True)
    python = base / "venv" / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "host.pth").write_text(sysconfig.get_path("purelib") + "\n")
    fake = base / "fake"
    for name, text in FAKE_COLAB.items():
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_text(text)
    return {"base": base, "remote": remote, "python": python, "fake": fake, "site": Path(site)}


def run_first_cell(machine: dict, notebook: Path, **env: str) -> subprocess.CompletedProcess:
    """The notebook's first cell in a new Python on the fake Colab, /content under the test's folder."""
    content = machine["base"] / "content"
    cell = first_code_cell(notebook).replace(COLAB_DIR, str(content / "course"))
    cell = cell.replace(json.dumps(colab_url()), json.dumps(machine["remote"].as_uri()))
    script = "import google.colab\n" + cell + "\nimport os, course_utils\n" + \
        "print('ARTIFACTS', os.environ.get('COURSE_ARTIFACTS_DIR'))\nprint('PACKAGE', course_utils.__file__)\n"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "PYTHON", "PIP_"))}
    environment.update(PYTHONPATH=str(machine["fake"]), PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0",
                       PIP_DISABLE_PIP_VERSION_CHECK="1", COURSE_PROFILE="smoke", **env)
    return subprocess.run([machine["python"], "-c", script], check=False, cwd=machine["base"], env=environment,
                          capture_output=True, text=True, timeout=600)


def colab_url() -> str:
    import yaml

    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def test_first_cell_on_colab_clones_installs_and_keeps_artifacts_on_drive(colab_machine):
    done = run_first_cell(colab_machine, next(p for p in NOTEBOOKS if p.name.startswith("04")))
    assert done.returncode == 0, done.stderr[-3000:]
    content = colab_machine["base"] / "content"
    assert (content / "course" / ".git").is_dir(), "the cell clones the course"
    assert "course_utils installed from" in done.stdout and "Chapter 04" in done.stdout
    assert f"ARTIFACTS {content / 'drive' / colab.DRIVE_FOLDER}" in done.stdout
    assert f"PACKAGE {content / 'course' / 'course_utils' / '__init__.py'}" in done.stdout
    installed_here = {path.name.split("-")[0].lower() for path in colab_machine["site"].glob("*.dist-info")}
    assert "torch" not in installed_here, "the runtime's own PyTorch stays in place"
    assert "course_utils" in installed_here, installed_here

    # A new Python session (as after a restart) imports the installed package without sys.path help.
    probe = "import course_utils.colab; print(course_utils.__file__)"
    check = subprocess.run([colab_machine["python"], "-c", probe], check=False,
                           cwd=colab_machine["base"], capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")})
    assert check.returncode == 0 and check.stdout.strip().startswith(str(content / "course")), check.stderr

    # Run again (the clone exists, pip has nothing to change), the learner declining Drive this time.
    again = run_first_cell(colab_machine, next(p for p in NOTEBOOKS if p.name.startswith("05")),
                           FAKE_DRIVE_DECLINE="1")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Google Drive not mounted" in again.stdout and "ARTIFACTS None" in again.stdout
