"""Chapter 02: masked language modelling - masking, the loss, a WordPiece tokenizer, baselines."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import torch

from course_utils.losses import IGNORE_INDEX
from course_utils.resources import read_text
from course_utils.train import History, train

if TYPE_CHECKING:
    from course_utils.config import MLMConfig

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


# --- corpus and tokenizer -------------------------------------------------------------------


def read_corpus(path: str | Path) -> list[str]:
    """The non-blank lines of a UTF-8 text file; a clear error for a missing or empty file."""
    lines = [line.strip() for line in read_text(path, "corpus file").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError(f"corpus file {path} is empty (no non-blank lines): nothing to train on")
    return lines


def words_of(lines: list[str], normalizer, pre_tokenizer) -> set[str]:
    """The distinct words of `lines` as the tokenizer will see them: normalized, then pre-tokenized."""
    return {w for line in lines for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(line))}


def train_wordpiece(lines: list[str], vocab_size: int):
    """A lower-casing BERT WordPiece tokenizer trained on `lines`, as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    normalizer, pre_tokenizer = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    trainer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    trainer.normalizer, trainer.pre_tokenizer = normalizer, pre_tokenizer
    # tokenizers' trainer numbers the "##x" pieces in hash-map order, and its merges break ties by number, so
    # the vocabulary changed from run to run (huggingface/tokenizers#1794). Numbered here first, in sorted
    # order, every run learns the same vocabulary.
    pieces = sorted({"##" + c for w in words_of(lines, normalizer, pre_tokenizer) for c in w[1:]})
    trainer.train_from_iterator(
        lines, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS + pieces)
    )
    tok = Tokenizer(models.WordPiece(trainer.get_vocab(), unk_token="[UNK]"))  # the pieces as ordinary tokens
    tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
    tok.add_special_tokens(SPECIAL_TOKENS)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def chunk_token_stream(ids: list[int], block_size: int, cls_id: int, sep_id: int) -> torch.Tensor:
    """Cut one long token stream into (num_blocks, block_size) rows of [CLS] ... [SEP] (the tail is dropped)."""
    if block_size < 3:
        raise ValueError(f"block_size must be at least 3 ([CLS] + a token + [SEP]), got {block_size}")
    body = block_size - 2
    num_blocks = len(ids) // body
    if num_blocks == 0:
        raise ValueError(f"{len(ids)} tokens are fewer than one block of {body}: use a longer text")
    blocks = torch.tensor(ids[: num_blocks * body]).view(num_blocks, body)  # (blocks, body)
    cls = torch.full((num_blocks, 1), cls_id)
    sep = torch.full((num_blocks, 1), sep_id)
    return torch.cat([cls, blocks, sep], dim=1)  # (blocks, block_size)


@dataclass
class MLMData:
    """A tokenizer trained on the training split, and both splits as token streams and blocks."""

    tokenizer: object
    train_ids: list[int]
    held_ids: list[int]
    train_blocks: torch.Tensor  # (num_train_blocks, block_size)
    held_blocks: torch.Tensor  # (num_held_blocks, block_size)
    num_lines: int  # corpus lines used, both splits
    held_lines: list[str]  # the held-out lines as text


def prepare_mlm_data(lines: list[str], vocab_size: int, block_size: int, held_fraction: float = 0.1) -> MLMData:
    """Split lines into train / held-out (the last `held_fraction`, contiguous: no overlap), tokenize, chunk."""
    if not 0.0 < held_fraction < 1.0:
        raise ValueError(f"held_fraction must be in (0, 1), got {held_fraction}")
    cut = int(len(lines) * (1 - held_fraction))
    tokenizer = train_wordpiece(lines[:cut], vocab_size)  # the held-out text never shapes the vocabulary
    train_ids = tokenizer(" ".join(lines[:cut]), add_special_tokens=False)["input_ids"]
    held_ids = tokenizer(" ".join(lines[cut:]), add_special_tokens=False)["input_ids"]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    return MLMData(
        tokenizer,
        train_ids,
        held_ids,
        chunk_token_stream(train_ids, block_size, cls, sep),
        chunk_token_stream(held_ids, block_size, cls, sep),
        len(lines),
        lines[cut:],
    )


class CorpusSizes(Protocol):
    """What `load_mlm_data` reads from a chapter config (chapters 02 and 03 both have these fields)."""

    corpus_lines: int | None  # None: the whole corpus
    vocab_size: int
    block_size: int


def load_mlm_data(cfg: CorpusSizes) -> MLMData:
    """The course corpus (tiny Shakespeare, checksum-verified): its first `corpus_lines` lines, tokenized, chunked."""
    from course_utils.resources import verified_data_file

    if cfg.corpus_lines is not None and cfg.corpus_lines < 20:
        raise ValueError(f"corpus_lines={cfg.corpus_lines}: use None (the whole corpus) or at least 20 lines")
    lines = read_corpus(verified_data_file("text"))[: cfg.corpus_lines]
    return prepare_mlm_data(lines, cfg.vocab_size, cfg.block_size)


def held_out_batches(data: MLMData, batch_size: int = 64, seed: int = 1) -> list[dict[str, torch.Tensor]]:
    """The held-out blocks masked once, at BERT's 15%, with a fixed seed: every evaluation sees the same masks."""
    collate = MLMCollator(data.tokenizer, 0.15, seed=seed)
    return [collate(list(data.held_blocks[i : i + batch_size])) for i in range(0, len(data.held_blocks), batch_size)]


# --- masking ---------------------------------------------------------------------------------


def mask_tokens(
    input_ids: torch.Tensor,
    special_mask: torch.Tensor,
    mask_token_id: int,
    vocab_size: int,
    mlm_probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: select mlm_probability of the non-special tokens; of those
    80% -> [MASK], 10% random, 10% kept.

    Returns (inputs, labels): labels hold the original id at selected positions, -100
    elsewhere.
    """
    if not 0.0 < mlm_probability < 1.0:
        raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
    if special_mask.shape != input_ids.shape:
        raise ValueError(
            f"special_mask {tuple(special_mask.shape)} must match "
            f"input_ids {tuple(input_ids.shape)}"
        )
    shape = input_ids.shape
    inputs, labels = input_ids.clone(), input_ids.clone()
    prob = torch.full(shape, mlm_probability).masked_fill(
        special_mask.bool(), 0.0
    )  # never select [CLS]/[SEP]/[PAD]
    selected = torch.bernoulli(prob, generator=generator).bool()
    labels[~selected] = (
        IGNORE_INDEX  # -100: cross_entropy skips every unselected position
    )
    to_mask = (
        torch.bernoulli(torch.full(shape, 0.8), generator=generator).bool() & selected
    )
    inputs[to_mask] = mask_token_id
    # half of the remaining 20% get a random token; the other half stay unchanged
    to_random = (
        torch.bernoulli(torch.full(shape, 0.5), generator=generator).bool()
        & selected
        & ~to_mask
    )
    random_ids = torch.randint(vocab_size, shape, generator=generator)
    inputs[to_random] = random_ids[to_random]
    return inputs, labels


def masking_statistics(inputs: torch.Tensor, labels: torch.Tensor, original: torch.Tensor, mask_token_id: int) -> dict:
    """Of the selectable tokens, the fraction selected; of the selected, the fractions [MASK] and unchanged."""
    selected = labels != IGNORE_INDEX
    n = int(selected.sum())
    if n == 0:
        raise ValueError("no position was selected: nothing to measure")
    return {
        "selected": n,
        "mask": (inputs[selected] == mask_token_id).sum().item() / n,
        "unchanged": (inputs[selected] == original[selected]).sum().item() / n,
    }


@dataclass
class MLMCollator:
    """Stack fixed-length blocks into a batch and mask them; `seed` makes the masks reproducible."""

    tokenizer: object
    mlm_probability: float = 0.15
    seed: int | None = None

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        self.special_ids = torch.tensor(self.tokenizer.all_special_ids)

    def __call__(self, blocks: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        input_ids = torch.stack(blocks)  # (batch, seq)
        special = torch.isin(input_ids, self.special_ids)
        inputs, labels = mask_tokens(
            input_ids, special, self.tokenizer.mask_token_id, len(self.tokenizer), self.mlm_probability, self.generator
        )
        return {"input_ids": inputs, "attention_mask": torch.ones_like(inputs), "labels": labels}


# --- the loss and its evaluation ------------------------------------------------------------


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the masked positions only; 0 (still differentiable) when nothing is masked."""
    logits = logits.reshape(-1, logits.shape[-1])  # (batch * seq, vocab)
    labels = labels.reshape(-1)  # (batch * seq,)
    num_masked = (labels != IGNORE_INDEX).sum()
    if num_masked == 0:  # F.cross_entropy would return 0/0 = nan and poison the weights
        return logits.new_zeros(()) + logits.sum() * 0.0  # 0, with a (zero) gradient for every logit
    return torch.nn.functional.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX, reduction="sum") / num_masked


def masked_only_loss(model, batch: dict) -> torch.Tensor:
    """The same loss as `mlm_loss`, computing the vocabulary projection only where the loss looks."""
    hidden = model.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    masked = batch["labels"] != IGNORE_INDEX  # (batch, seq)
    if not masked.any():
        return hidden.sum() * 0.0
    logits = model.cls.predictions(hidden[masked])  # (num_masked, vocab) instead of (batch, seq, vocab)
    return torch.nn.functional.cross_entropy(logits, batch["labels"][masked])


@torch.no_grad()
def evaluate_mlm(model: torch.nn.Module, batches, device: torch.device | str | None = None) -> dict[str, float]:
    """Mean masked-token loss over all batches (summed over tokens, not averaged over batches) and perplexity.

    The batches go to `device`, by default the model's own (a CPU batch cannot index a CUDA embedding).
    """
    device = device or next(model.parameters()).device
    model.eval()
    total_loss, total_masked = 0.0, 0
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        num_masked = int((batch["labels"] != IGNORE_INDEX).sum())
        total_loss += float(mlm_loss(logits, batch["labels"])) * num_masked
        total_masked += num_masked
    model.train()
    if total_masked == 0:
        raise ValueError("no masked token in the evaluation batches: the perplexity is undefined")
    mean = total_loss / total_masked
    return {"loss": mean, "perplexity": math.exp(mean), "masked_tokens": total_masked}


def pretrain(model, data: MLMData, cfg: MLMConfig, evaluate=None, progress: bool = True) -> History:
    """Pretrain on the training blocks, masked afresh at `cfg.train_mlm_probability`, with the shared loop."""
    loader = torch.utils.data.DataLoader(
        list(data.train_blocks),
        batch_size=cfg.batch_size,
        shuffle=True,
        collate_fn=MLMCollator(data.tokenizer, cfg.train_mlm_probability, seed=cfg.seed),
    )
    return train(model, loader, cfg.train_config(), evaluate=evaluate, loss_fn=masked_only_loss, progress=progress)


CORRUPTIONS = ("mask", "random", "kept")  # what the input shows at a scored position (BERT's 80/10/10)


def corruption_kind(inputs: torch.Tensor, labels: torch.Tensor, mask_token_id: int) -> torch.Tensor:
    """Per position: 0 [MASK], 1 a random token, 2 the true token kept, -1 not scored (same shape as inputs)."""
    kind = torch.full_like(labels, -1)
    scored = labels != IGNORE_INDEX
    kind[scored & (inputs == mask_token_id)] = 0
    kind[scored & (inputs != mask_token_id) & (inputs != labels)] = 1
    kind[scored & (inputs == labels)] = 2  # a random draw that happens to be the true token counts as kept
    return kind


@torch.no_grad()
def loss_by_corruption(model, batches, mask_token_id: int, log_probs: torch.Tensor) -> dict[str, dict[str, float]]:
    """Model and unigram mean loss at [MASK]ed, randomised and kept positions; `gain`: each kind's share of the
    total log-perplexity gap to the unigram (the shares sum to log(model perplexity / unigram perplexity))."""
    model.eval()
    device = next(model.parameters()).device
    sums = {name: [0, 0.0, 0.0] for name in CORRUPTIONS}  # count, model loss, unigram loss
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        kind = corruption_kind(batch["input_ids"], batch["labels"], mask_token_id)  # (batch, seq)
        scored = kind >= 0
        targets = batch["labels"][scored]  # (num_scored,)
        loss = torch.nn.functional.cross_entropy(logits[scored].float(), targets, reduction="none")
        unigram = -log_probs.to(device)[targets]
        for index, name in enumerate(CORRUPTIONS):
            of_kind = kind[scored] == index
            sums[name][0] += int(of_kind.sum())
            sums[name][1] += float(loss[of_kind].sum())
            sums[name][2] += float(unigram[of_kind].sum())
    model.train()
    total = sum(count for count, _, _ in sums.values())
    if total == 0:
        raise ValueError("no masked token in the evaluation batches: the perplexity is undefined")
    return {
        name: {
            "count": count,
            "loss": model_loss / max(count, 1),
            "unigram_loss": unigram_loss / max(count, 1),
            "ratio": math.exp((model_loss - unigram_loss) / max(count, 1)),  # perplexity / unigram perplexity
            "gain": (model_loss - unigram_loss) / total,
        }
        for name, (count, model_loss, unigram_loss) in sums.items()
    }


# --- baselines ---------------------------------------------------------------------------------


def unigram_log_probs(train_ids: list[int], vocab_size: int) -> torch.Tensor:
    """log p(token) from training-text counts, add-one smoothed so every token has p > 0."""
    counts = torch.ones(vocab_size, dtype=torch.float64)
    for token, count in Counter(train_ids).items():
        counts[token] += count
    return torch.log(counts / counts.sum())


@torch.no_grad()
def init_output_bias(model, log_probs: torch.Tensor) -> None:
    """Start the MLM head's bias at the log unigram frequencies, so the untrained model predicts the unigram."""
    bias = model.get_output_embeddings().bias  # BertForMaskedLM: cls.predictions.bias
    if bias is None or bias.shape != log_probs.shape:
        got = None if bias is None else tuple(bias.shape)
        raise ValueError(
            f"log_probs has shape {tuple(log_probs.shape)}, the output bias {got}: build both from one tokenizer"
        )
    bias.copy_(log_probs - log_probs.mean())  # a constant shift does not change the softmax


def bigram_counts(ids: list[int], vocab_size: int) -> torch.Tensor:
    """counts[a, b]: how often token b follows token a in the stream `ids`."""
    ids = torch.as_tensor(ids)
    if len(ids) < 2 or ids.min() < 0 or ids.max() >= vocab_size:
        raise ValueError(f"need 2+ token ids in [0, {vocab_size}), got {len(ids)} ids: use the tokenizer's vocab size")
    counts = torch.zeros(vocab_size * vocab_size)
    counts.index_add_(0, ids[:-1] * vocab_size + ids[1:], torch.ones(len(ids) - 1))
    return counts.view(vocab_size, vocab_size)  # (vocab, vocab)


def neighbour_log_probs(
    counts: torch.Tensor, log_probs: torch.Tensor, left: torch.Tensor, right: torch.Tensor, smoothing: float = 0.1
) -> torch.Tensor:
    """A count model that reads only the two neighbours: log p(w | left, right), with p proportional to
    p(w | left) p(w | right) / p(w); each bigram gets `smoothing` x vocab pseudo-counts spread as the unigram,
    so a neighbour never seen in training ([MASK], say) tells it nothing."""
    if smoothing <= 0:
        raise ValueError(f"smoothing must be > 0 (a bigram never seen would get probability 0), got {smoothing}")
    if counts.shape != (len(log_probs), len(log_probs)):
        shapes = f"counts {tuple(counts.shape)} and log_probs {tuple(log_probs.shape)}"
        raise ValueError(f"{shapes}: build both from one tokenizer")
    log_probs = log_probs.float()
    prior = smoothing * len(log_probs) * log_probs.exp()  # (vocab,) pseudo-counts

    def conditional(table: torch.Tensor) -> torch.Tensor:  # rows: smoothed p(w | the row's token)
        table = table + prior
        return (table / table.sum(dim=1, keepdim=True)).log()  # (vocab, vocab)

    after_left = conditional(counts)[left]  # (n, vocab): log p(w | left)
    before_right = conditional(counts.T)[right]  # (n, vocab): log p(w | right)
    return (after_left + before_right - log_probs).log_softmax(dim=-1)  # (n, vocab)


def neighbour_model_at_masks(
    batches, counts: torch.Tensor, log_probs: torch.Tensor, mask_token_id: int, smoothing: float = 0.1
) -> dict[str, float]:
    """The neighbour count model's mean loss at the [MASK] positions of `batches`, reading the same (masked)
    input a model sees, next to the unigram's; `ratio` is its perplexity / the unigram's, as in loss_by_corruption."""
    count, model_loss, unigram_loss = 0, 0.0, 0.0
    for batch in batches:
        kind = corruption_kind(batch["input_ids"], batch["labels"], mask_token_id)  # (batch, seq)
        rows, cols = (kind == 0).nonzero(as_tuple=True)  # [CLS]/[SEP] are never masked: cols - 1, cols + 1 exist
        targets = batch["labels"][rows, cols]  # (n,)
        left, right = batch["input_ids"][rows, cols - 1], batch["input_ids"][rows, cols + 1]
        scores = neighbour_log_probs(counts, log_probs, left, right, smoothing)  # (n, vocab)
        count += len(targets)
        model_loss -= float(scores.gather(1, targets[:, None]).sum())
        unigram_loss -= float(log_probs[targets].sum())
    if count == 0:
        raise ValueError("no [MASK] position in the batches: nothing to score")
    return {
        "count": count,
        "loss": model_loss / count,
        "unigram_loss": unigram_loss / count,
        "ratio": math.exp((model_loss - unigram_loss) / count),
    }


def sinusoidal_frequencies(dim: int, base: float = 10000.0) -> torch.Tensor:
    """The Transformer's angular frequencies omega_i = base^(-2i/dim), one per (sin, cos) pair: 1 down to ~1/base."""
    if dim % 2 or dim <= 0 or base <= 1:
        raise ValueError(f"need an even dim > 0 and base > 1, got dim={dim}, base={base}")
    return base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (dim / 2,)


def sinusoidal_positions(num_positions: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    """The Transformer's position table: row p holds sin(p omega_i) at column 2i and cos(p omega_i) at 2i+1."""
    if num_positions <= 0:
        raise ValueError(f"num_positions must be > 0, got {num_positions}")
    position = torch.arange(num_positions, dtype=torch.float64)[:, None]  # (positions, 1)
    angle = position * sinusoidal_frequencies(dim, base)  # (positions, dim / 2)
    table = torch.stack([angle.sin(), angle.cos()], dim=-1)  # (positions, dim / 2, 2)
    return table.flatten(1).float()  # (positions, dim): sin, cos, sin, cos, ...


@torch.no_grad()
def init_sinusoidal_positions(model, scale: float, base: float = 10000.0) -> None:
    """Start a BERT's learned position embeddings at `scale` x the sinusoidal table (they stay trainable)."""
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    embeddings = getattr(getattr(model, "base_model", model), "embeddings", None)
    if not isinstance(getattr(embeddings, "position_embeddings", None), torch.nn.Embedding):
        raise ValueError(f"{type(model).__name__} has no learned position table (embeddings.position_embeddings)")
    table = embeddings.position_embeddings.weight  # (positions, hidden)
    table.copy_(scale * sinusoidal_positions(table.shape[0], table.shape[1], base))


def unigram_perplexity(log_probs: torch.Tensor, targets: torch.Tensor) -> float:
    """Perplexity of a context-free model that always predicts the unigram distribution."""
    targets = targets[targets != IGNORE_INDEX]
    return math.exp(-float(log_probs[targets].mean()))


# --- the model's size ----------------------------------------------------------------------------


def parameter_breakdown(model: torch.nn.Module) -> dict[str, int]:
    """Parameters of a BertForMaskedLM grouped into embeddings, attention, feed-forward, LayerNorm, MLM head."""
    groups = dict.fromkeys(["embeddings", "attention", "feed_forward", "layer_norm", "mlm_head"], 0)
    for name, param in model.named_parameters():  # tied weights appear once
        if "LayerNorm" in name:
            groups["layer_norm"] += param.numel()
        elif "embeddings" in name:
            groups["embeddings"] += param.numel()
        elif ".attention." in name:
            groups["attention"] += param.numel()
        elif "intermediate" in name or ".output." in name:
            groups["feed_forward"] += param.numel()
        elif name.startswith("cls."):
            groups["mlm_head"] += param.numel()
        else:
            raise ValueError(f"parameter {name} fits no group")
    return groups


def parameter_formula(config) -> dict[str, int]:
    """The same counts from the config alone (V vocab, H hidden, L layers, I intermediate, P positions, T types)."""
    V, H, L, I = config.vocab_size, config.hidden_size, config.num_hidden_layers, config.intermediate_size  # noqa: E741
    P, T = config.max_position_embeddings, config.type_vocab_size
    return {
        "embeddings": (V + P + T) * H,  # word, position and token-type tables
        "attention": L * 4 * (H * H + H),  # Q, K, V and output projections with biases
        "feed_forward": L * (H * I + I + I * H + H),  # up- and down-projection with biases
        "layer_norm": (2 * L + 2) * 2 * H,  # gain and bias: embeddings, 2 per layer, MLM head
        "mlm_head": (H * H + H) + V,  # transform dense + decoder bias (decoder weight tied to embeddings)
    }


# --- using the model -------------------------------------------------------------------------------


@torch.no_grad()
def fill_mask(model, tokenizer, text: str, top_k: int = 5) -> list[list[tuple[str, float]]]:
    """Top-k (token, probability) for each [MASK] in `text`."""
    encoded = tokenizer(text, return_tensors="pt")
    positions = (encoded["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten()
    if len(positions) == 0:
        raise ValueError(f"no {tokenizer.mask_token} in {text!r}")
    model.eval()
    device = next(model.parameters()).device
    logits = model(**{k: v.to(device) for k, v in encoded.items() if k != "token_type_ids"}).logits[0]  # (seq, vocab)
    probs = logits[positions].softmax(dim=-1)  # (num_masks, vocab)
    top = probs.topk(top_k, dim=-1)
    return [
        [(tokenizer.convert_ids_to_tokens(int(i)), float(p)) for p, i in zip(ps, ids, strict=True)]
        for ps, ids in zip(top.values, top.indices, strict=True)
    ]
