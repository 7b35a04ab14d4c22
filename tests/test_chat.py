import pytest

from course_utils import bpe, chat
from course_utils.losses import IGNORE_INDEX

TEXT = "ROMEO: But soft, what light through yonder window breaks? It is the east.\n" * 20
CONVERSATION = [
    {"role": "user", "content": "Reverse the word king."},
    {"role": "assistant", "content": "gnik"},
]


def tokenizer():
    fast = bpe.to_transformers(bpe.train(TEXT, 300), context=64)
    assert chat.add_chat_tokens(fast) == 3
    return fast


def test_the_template_renders_roles_and_end_of_turn():
    fast = tokenizer()
    text = fast.apply_chat_template(CONVERSATION[:1], add_generation_prompt=True, tokenize=False)
    assert text == "<|user|>\nReverse the word king.<|end|>\n<|assistant|>\n"
    ids = fast.apply_chat_template(CONVERSATION, tokenize=True)
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    assert sum(i == fast.convert_tokens_to_ids(chat.END_OF_TURN) for i in ids) == 2  # one id each


def test_labels_keep_only_the_reply_and_its_end_of_turn():
    fast = tokenizer()
    example = chat.training_example(fast, CONVERSATION)
    kept = [t for t in example["labels"] if t != IGNORE_INDEX]
    assert fast.decode(kept) == "gnik" + chat.END_OF_TURN
    assert len(example["labels"]) == len(example["input_ids"])
    start = example["labels"].index(kept[0])
    assert example["input_ids"][start:start + len(kept)] == kept


def test_bad_input_is_named():
    fast = tokenizer()
    with pytest.raises(ValueError, match="message 0 is"):
        chat.training_example(fast, [{"role": "assistant", "content": "hi"}])
    with pytest.raises(ValueError, match="must end with the assistant"):
        chat.training_example(fast, CONVERSATION[:1])
