"""Local stand-ins for the `full` profile's Hub resources, so its code path runs offline on CPU.

    python tests/standins.py FOLDER

writes FOLDER/tiny-bert-cased (a BERT with random weights and a cased WordPiece vocabulary, in the
files `bert-base-cased` ships) and FOLDER/conll2003 (WikiGold as parquet in the layout and features
of CoNLL-2003's parquet copy on the Hub: conll2003/{train,validation,test}/0000.parquet) and
FOLDER/tiny-gpt2 (a GPT2LMHeadModel with random weights and a byte-level BPE tokenizer) and FOLDER/tiny-llama
(a LlamaForCausalLM shaped like SmolLM2, likewise). Point COURSE_ENCODER, COURSE_NER_DATA, COURSE_DECODER and
COURSE_CHAT_BASE at them with COURSE_PROFILE=full: `make rehearse-full` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

from course_utils import ner_data, tagging
from course_utils.resources import LOCAL_DATA, data_dir

# The Hub copy's columns besides tokens and ner_tags (the course reads only those two); values here are all 0
POS_NAMES = ['"', "''", "#", "$", "(", ")", ",", ".", ":", "``", "CC", "CD", "DT", "EX", "FW", "IN", "JJ", "JJR",
             "JJS", "LS", "MD", "NN", "NNP", "NNPS", "NNS", "NN|SYM", "PDT", "POS", "PRP", "PRP$", "RB", "RBR", "RBS",
             "RP", "SYM", "TO", "UH", "VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "WDT", "WP", "WP$", "WRB"]
CHUNK_NAMES = ["O", *(f"{p}-{t}" for t in ("ADJP", "ADVP", "CONJP", "INTJ", "LST", "NP", "PP", "PRT", "SBAR", "UCP",
                                           "VP") for p in ("B", "I"))]


def wikigold_splits() -> dict[str, list[ner_data.Sentence]]:
    """WikiGold split by document, as the offline profiles split it."""
    folder, name = LOCAL_DATA["ner"]
    return ner_data.split_by_document(ner_data.read_conll(data_dir() / folder / name, scheme="iob1"))


def write_conll_parquet(folder: Path) -> Path:
    """WikiGold in CoNLL-2003's parquet layout and features; returns the folder to give load_dataset."""
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    features = Features({
        "id": Value("string"),
        "tokens": Sequence(Value("string")),
        "pos_tags": Sequence(ClassLabel(names=POS_NAMES)),
        "chunk_tags": Sequence(ClassLabel(names=CHUNK_NAMES)),
        "ner_tags": Sequence(ClassLabel(names=tagging.LABELS)),
    })
    for split, rows in wikigold_splits().items():
        name = "validation" if split == "dev" else split  # the Hub's name for dev
        table = {
            "id": [str(i) for i in range(len(rows))],
            "tokens": [s.tokens for s in rows],
            "pos_tags": [[0] * len(s.tokens) for s in rows],
            "chunk_tags": [[0] * len(s.tokens) for s in rows],
            "ner_tags": [[tagging.LABEL2ID[t] for t in s.tags] for s in rows],
        }
        path = folder / "conll2003" / name / "0000.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        Dataset.from_dict(table, features=features).to_parquet(path)
    return folder


def write_tiny_cased_bert(folder: Path, vocab_size: int = 3000, seed: int = 0) -> Path:
    """A 2-layer BERT with random weights and a cased WordPiece vocabulary trained on WikiGold's words."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    words = [" ".join(s.tokens) for rows in wikigold_splits().values() for s in rows]
    trainer = BertWordPieceTokenizer(lowercase=False, strip_accents=False)
    trainer.train_from_iterator(words, vocab_size=vocab_size, min_frequency=1)
    trainer.save_model(str(folder))  # vocab.txt
    tokenizer = BertTokenizerFast(str(folder / "vocab.txt"), do_lower_case=False, model_max_length=128)
    tokenizer.save_pretrained(folder)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=512)  # bert-base-cased's
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(folder)  # as bert-base-cased: an encoder without a task head
    return folder


def write_tiny_gpt2(folder: Path, vocab_size: int = 300, seed: int = 0) -> Path:
    """A 2-layer GPT2LMHeadModel with random weights and a byte-level BPE tokenizer, in the files GPT-2 ships."""
    import torch
    from transformers import GPT2LMHeadModel

    from course_utils import bpe, gpt
    from course_utils.resources import verified_data_file

    folder.mkdir(parents=True, exist_ok=True)
    merges = bpe.train(verified_data_file("text").read_text(encoding="utf-8")[:50_000], vocab_size - 1)
    tokenizer = bpe.to_transformers(merges, context=128)
    tokenizer.save_pretrained(folder)
    shape = gpt.DecoderShape(vocab_size=len(tokenizer), context=128, layers=2, heads=2, width=64)
    torch.manual_seed(seed)
    model = gpt.randomize_vectors(GPT2LMHeadModel(gpt.gpt2_config(shape)), seed=seed)  # biases and gains seen
    model.save_pretrained(folder)  # as GPT-2: a language-model head
    return folder


def write_tiny_llama(folder: Path, vocab_size: int = 300, seed: int = 0) -> Path:
    """A 2-layer LlamaForCausalLM (SmolLM2's architecture: grouped-query attention, tied embedding) with random
    weights and a byte-level BPE tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from course_utils import bpe, gpt
    from course_utils.resources import verified_data_file

    folder.mkdir(parents=True, exist_ok=True)
    merges = bpe.train(verified_data_file("text").read_text(encoding="utf-8")[:50_000], vocab_size - 1)
    tokenizer = bpe.to_transformers(merges, context=128)
    tokenizer.save_pretrained(folder)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    model = gpt.randomize_vectors(LlamaForCausalLM(config), seed=seed)  # norm gains seen
    model.save_pretrained(folder)
    return folder


def build(folder: Path) -> dict[str, Path]:
    """Every stand-in under `folder`: {'COURSE_ENCODER': ..., 'COURSE_NER_DATA': ..., 'COURSE_DECODER': ...,
    'COURSE_CHAT_BASE': ...}."""
    return {
        "COURSE_ENCODER": write_tiny_cased_bert(folder / "tiny-bert-cased"),
        "COURSE_NER_DATA": write_conll_parquet(folder / "conll2003"),
        "COURSE_DECODER": write_tiny_gpt2(folder / "tiny-gpt2"),
        "COURSE_CHAT_BASE": write_tiny_llama(folder / "tiny-llama"),
    }


if __name__ == "__main__":
    for variable, path in build(Path(sys.argv[1])).items():
        print(f"{variable}={path.resolve()}")
