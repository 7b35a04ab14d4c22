"""Supervised fine-tuning (SFT) of a decoder on chat examples: a bigger vocabulary for the chat tokens, the
shifted batches with the loss on the reply (or on everything), the shared loop, and greedy replies."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from course_utils import train
from course_utils.chat import END_OF_TURN, training_example
from course_utils.config.loop import TrainConfig
from course_utils.gpt import GPT, KVCache, lm_loss
from course_utils.instruct_data import Example
from course_utils.losses import IGNORE_INDEX
from course_utils.ner_data import LengthGroupedSampler


def with_vocab(model: GPT, size: int) -> GPT:
    """`model` with `size` token ids: the new rows start at the mean of the old ones (a token the model has never
    seen then looks like an average token, not like noise), the old rows are kept."""
    old = model.shape.vocab_size
    if size < old:
        raise ValueError(f"size={size} would drop token ids: the model has {old}")
    grown = GPT(dataclasses.replace(model.shape, vocab_size=size)).to(next(model.parameters()).device)
    state = model.state_dict()
    with torch.no_grad():
        table = state["tokens.weight"]  # (old, width)
        state["tokens.weight"] = torch.cat([table, table.mean(0, keepdim=True).expand(size - old, -1)])
        if not model.shape.tie:
            head = state["head.weight"]
            state["head.weight"] = torch.cat([head, head.mean(0, keepdim=True).expand(size - old, -1)])
        else:
            state["head.weight"] = state["tokens.weight"]
    grown.load_state_dict(state)
    return grown.train(model.training)


def messages(example: Example) -> list[dict[str, str]]:
    """One example as a conversation: the instruction from the user, the answer from the assistant."""
    return [{"role": "user", "content": example.instruction}, {"role": "assistant", "content": example.answer}]


def encode(tokenizer, example: Example, context: int, whole_sequence: bool = False) -> dict[str, list[int]]:
    """Inputs and next-token labels of one example, shifted for `lm_loss` (label t is token t + 1): on the
    reply and its end of turn only, or (whole_sequence) on every token."""
    row = training_example(tokenizer, messages(example))
    ids = row["input_ids"]
    labels = ids if whole_sequence else row["labels"]
    if len(ids) - 1 > context:
        raise ValueError(
            f"{example.family} example {example.instruction[:40]!r}... is {len(ids)} tokens: the model sees "
            f"{context} at once (choose shorter inputs, or a model with a longer context)"
        )
    return {"input_ids": ids[:-1], "labels": labels[1:]}


def prompt_ids(tokenizer, instruction: str) -> list[int]:
    """The user's turn and the assistant's marker: what the model continues at inference."""
    conversation = [{"role": "user", "content": instruction}]
    encoded = tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True)
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def demo_prompt_ids(tokenizer, demos: Sequence[Example], instruction: str) -> list[int]:
    """A few-shot prompt: each demonstration as a finished exchange (its answer included), then the user's
    turn and the assistant's marker. With no demonstrations it is `prompt_ids`."""
    conversation = [m for d in demos for m in messages(d)] + [{"role": "user", "content": instruction}]
    encoded = tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True)
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


class ChatRows(Dataset):
    """Encoded examples, padded per batch by `pad`."""

    def __init__(self, rows: Sequence[dict[str, list[int]]]) -> None:
        self.rows = list(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.rows[i]


def pad(rows: list[dict[str, list[int]]], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Right padding: a causal model's real tokens never see the pads after them, and the pads' labels are
    IGNORE_INDEX, so they add nothing to the loss."""
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), width), pad_id)
    labels = torch.full((len(rows), width), IGNORE_INDEX)
    for i, r in enumerate(rows):
        ids[i, : len(r["input_ids"])] = torch.tensor(r["input_ids"])
        labels[i, : len(r["labels"])] = torch.tensor(r["labels"])
    return {"input_ids": ids, "labels": labels}  # (batch, width) each


def finetune(
    model: nn.Module,
    rows: Sequence[dict[str, list[int]]],
    loop: TrainConfig,
    batch_size: int,
    seed: int,
    device: torch.device,
    evaluate=None,
    progress: bool = True,
) -> train.History:
    """Train `model` on encoded rows with the course's loop; it ends in eval mode."""
    lengths = [len(r["input_ids"]) for r in rows]
    # batches of similar lengths (little padding), shuffled by `seed`
    batches = LengthGroupedSampler(lengths, batch_size, seed)
    loader = DataLoader(ChatRows(rows), batch_sampler=batches, collate_fn=pad)
    history = train.fit(model, loader, loop, evaluate, lm_loss, device, progress)
    model.eval()
    return history


@torch.no_grad()
def reply(model: GPT, tokenizer, instruction: str, max_new: int) -> str:
    """The model's greedy reply to `instruction`, up to its end-of-turn token (or `max_new` tokens)."""
    end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    prompt = prompt_ids(tokenizer, instruction)
    room = model.shape.context + 1 - len(prompt)  # the last new token is never fed back
    if room < 1:
        raise ValueError(f"the prompt is {len(prompt)} tokens: no room left in the context of {model.shape.context}")
    (ids,), _ = greedy_batch(model, [prompt], max_new, end)
    return tokenizer.decode(ids, skip_special_tokens=True).strip()


@torch.no_grad()
def greedy_batch(model: GPT, prompts: list[list[int]], max_new: int, end: int) -> tuple[list[list[int]], list[bool]]:
    """Greedy replies to prompts of one length, in one batch (no padding needed): each reply's ids up to its
    end-of-turn token, and whether it ended its turn within `max_new` tokens."""
    if len({len(p) for p in prompts}) != 1:
        raise ValueError("greedy_batch takes prompts of one length: group them by length first")
    device = next(model.parameters()).device
    cache, step = KVCache(model.shape.layers), torch.tensor(prompts, device=device)  # (batch, prompt)
    out = torch.empty(len(prompts), 0, dtype=torch.long, device=device)
    for _ in range(min(max_new, model.shape.context + 1 - len(prompts[0]))):
        step = model(step, cache)[:, -1].argmax(-1, keepdim=True)  # (batch, 1)
        out = torch.cat([out, step], dim=1)
        if bool((out == end).any(dim=1).all()):
            break  # every reply has ended its turn
    rows = out.tolist()
    return [r[: r.index(end)] if end in r else r for r in rows], [end in r for r in rows]


def replies(
    model: GPT, tokenizer, examples: Sequence[Example], max_new: int, progress: bool = True, batch: int = 64
) -> tuple[list[str], list[bool]]:
    """Greedy replies to every example's instruction, and whether each ended its turn: prompts of equal length
    go through the model together (the same replies as one at a time, up to float rounding)."""
    prompts = [prompt_ids(tokenizer, e.instruction) for e in examples]
    return prompt_replies(model, tokenizer, prompts, max_new, progress, batch)


def prompt_replies(
    model: GPT, tokenizer, prompts: Sequence[list[int]], max_new: int, progress: bool = True, batch: int = 64
) -> tuple[list[str], list[bool]]:
    """`replies` for prompts already encoded (a conversation of several turns, chapter 10's examples)."""
    end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    too_long = [i for i, p in enumerate(prompts) if len(p) > model.shape.context]
    if too_long:
        raise ValueError(f"example {too_long[0]}'s prompt is {len(prompts[too_long[0]])} tokens: no room in the "
                         f"context of {model.shape.context}")
    by_length: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        by_length.setdefault(len(p), []).append(i)
    groups = [ids[k : k + batch] for ids in by_length.values() for k in range(0, len(ids), batch)]
    texts, ended = [""] * len(prompts), [False] * len(prompts)
    was_training = model.training
    model.eval()
    for group in tqdm(groups, disable=not progress, desc="replies", leave=False):
        ids, done = greedy_batch(model, [prompts[i] for i in group], max_new, end)
        for i, reply_ids, finished in zip(group, ids, done, strict=True):
            texts[i], ended[i] = tokenizer.decode(reply_ids, skip_special_tokens=True).strip(), finished
    model.train(was_training)
    return texts, ended


@torch.no_grad()
def sampled_replies(
    model: GPT, tokenizer, instruction: str, n: int, temperature: float, max_new: int, seed: int
) -> list[str]:
    """`n` replies sampled at `temperature` (one batch: the prompt is the same for all, so nothing is padded)."""
    end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    prompt = prompt_ids(tokenizer, instruction)
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    cache, step = KVCache(model.shape.layers), torch.tensor([prompt] * n, device=device)  # (n, prompt)
    out = torch.empty(n, 0, dtype=torch.long, device=device)
    for _ in range(min(max_new, model.shape.context + 1 - len(prompt))):
        probs = (model(step, cache)[:, -1].float() / temperature).softmax(-1)  # (n, vocab)
        step = torch.multinomial(probs, 1, generator=generator)  # (n, 1)
        out = torch.cat([out, step], dim=1)
        if bool((out == end).any(dim=1).all()):
            break  # every reply has ended its turn
    texts = []
    for row in out.tolist():
        row = row[: row.index(end)] if end in row else row
        texts.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    return texts


def train_new_rows(model: GPT, first_new: int) -> int:
    """Make the token embedding trainable in its rows `first_new`... only (the chat tokens a frozen model has
    never seen; tied, they are also their own output rows); returns how many numbers that trains. The other
    rows get a zero gradient, so AdamW without weight decay leaves them as they are."""
    table = model.tokens.weight
    if not 0 <= first_new < table.shape[0]:
        raise ValueError(f"first_new={first_new}: the embedding has rows 0..{table.shape[0] - 1}")
    keep = torch.zeros(table.shape[0], 1, device=table.device)
    keep[first_new:] = 1
    table.requires_grad_(True)
    table.register_hook(lambda grad: grad * keep)  # (vocab, width): old rows' gradient zeroed
    return (table.shape[0] - first_new) * table.shape[1]


@torch.no_grad()
def hf_with_vocab(model, first_new: int, size: int):
    """A `transformers` decoder with rows for `size` token ids, rows `first_new`... (input and, if untied, output)
    at the mean of the rows before them, as `with_vocab` grows the course's GPT; rows already there are reused."""
    if not 0 < first_new <= size:
        raise ValueError(f"first_new={first_new} and size={size}: the new ids must follow old ones")
    if size > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(size, mean_resizing=False)
    tables = {id(t): t for t in (model.get_input_embeddings().weight, model.get_output_embeddings().weight)}
    for table in tables.values():  # one table when tied
        table[first_new:size] = table[:first_new].mean(0)
    return model


def library_lora_config(model, r: int, alpha: float, train_rows: bool = True):
    """`peft`'s LoRA on every linear layer of a `transformers` decoder (its output layer aside); with
    `train_rows`, the embedding and output layer also train whole, as untied copies (the chat tokens' rows)."""
    from peft import LoraConfig

    names = {module: name.rsplit(".", 1)[-1] for name, module in model.named_modules()}
    kept = [names[model.get_input_embeddings()], names[model.get_output_embeddings()]] if train_rows else None
    return LoraConfig(r=r, lora_alpha=alpha, target_modules="all-linear", lora_dropout=0.0, modules_to_save=kept,
                      fan_in_fan_out=model.config.model_type == "gpt2")  # GPT-2's Conv1D stores W transposed


@torch.no_grad()
def hf_replies(
    model, tokenizer, examples: Sequence[Example], max_new: int, batch: int = 64
) -> tuple[list[str], list[bool]]:
    """Greedy replies through `transformers`' generate: prompts padded on the left (with an attention mask),
    so that every prompt ends at the last position and the reply follows it; stops at the end of turn."""
    end, pad_id = tokenizer.convert_tokens_to_ids(END_OF_TURN), tokenizer.pad_token_id
    if pad_id is None or pad_id == end:
        raise ValueError("give the tokenizer a pad token of its own (not the end-of-turn token)")
    config = model.config
    device = next(model.parameters()).device
    positions = getattr(config, "n_positions", None) or config.max_position_embeddings  # GPT-2's name, or Llama's
    texts, ended = [], []
    for start in range(0, len(examples), batch):
        prompts = [prompt_ids(tokenizer, e.instruction) for e in examples[start : start + batch]]
        width = max(map(len, prompts))
        ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in prompts], device=device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
        new = min(max_new, positions + 1 - width)  # the last new token is never fed back
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new, do_sample=False,
                             eos_token_id=end, pad_token_id=pad_id)
        for row in out[:, width:].tolist():
            finished = end in row
            texts.append(tokenizer.decode(row[: row.index(end)] if finished else row, skip_special_tokens=True).strip())
            ended.append(finished)
    return texts, ended
