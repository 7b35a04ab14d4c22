"""A chat template for a decoder: role markers and end-of-turn as special tokens, a Jinja template applied by
`tokenizer.apply_chat_template`, and labels that train on the assistant's reply only."""

from __future__ import annotations

from course_utils.losses import IGNORE_INDEX

USER, ASSISTANT, END_OF_TURN = "<|user|>", "<|assistant|>", "<|end|>"
SPECIAL_TOKENS = (USER, ASSISTANT, END_OF_TURN)
# One turn: its role's marker, a newline, the text, the end-of-turn token, a newline. With
# add_generation_prompt the assistant's marker and newline follow, and the model writes the rest.
TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + '\n' + message['content'] + '<|end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' + '\n' }}{% endif %}"
)


def add_chat_tokens(tokenizer) -> int:
    """Give `tokenizer` the role and end-of-turn tokens and the template;
    returns how many ids were added (grow the model's embeddings by as many:
    their rows start untrained)."""
    new = {"additional_special_tokens": list(SPECIAL_TOKENS)}
    added = tokenizer.add_special_tokens(new)  # each one id, never split into bytes
    tokenizer.chat_template = TEMPLATE  # Jinja: apply_chat_template renders it
    return added


def check_messages(messages: list[dict[str, str]]) -> None:
    """Roles alternate user, assistant, ...; a clear error naming the first message that does not."""
    for i, message in enumerate(messages):
        expected = "user" if i % 2 == 0 else "assistant"
        if message.get("role") != expected or not isinstance(message.get("content"), str):
            raise ValueError(
                f"message {i} is {message!r}: expected {{'role': {expected!r}, 'content': <text>}} "
                "(turns alternate user, assistant, starting with the user)"
            )


def training_example(tokenizer, messages: list[dict[str, str]]) -> dict[str, list[int]]:
    """input_ids of the whole conversation and labels that keep only the last reply and its end-of-turn token
    (everything before it is IGNORE_INDEX); the conversation must end with the assistant."""
    check_messages(messages)
    if messages[-1]["role"] != "assistant":
        raise ValueError("the conversation must end with the assistant's reply: that is what the labels train")
    prompt = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=True)
    whole = tokenizer.apply_chat_template(messages, tokenize=True)
    prompt, whole = _ids(prompt), _ids(whole)
    if whole[: len(prompt)] != prompt:
        raise ValueError("the prompt's tokens are not a prefix of the conversation's: the template splits a word")
    end = whole.index(tokenizer.convert_tokens_to_ids(END_OF_TURN), len(prompt))  # the reply's end of turn
    labels = [IGNORE_INDEX] * len(prompt) + whole[len(prompt) : end + 1]
    labels += [IGNORE_INDEX] * (len(whole) - len(labels))  # the newline after it: not the model's to predict
    return {"input_ids": whole, "labels": labels}


def _ids(encoded) -> list[int]:
    """apply_chat_template's ids as a plain list (some versions return a BatchEncoding)."""
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)
