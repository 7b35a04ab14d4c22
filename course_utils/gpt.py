"""A GPT from scratch: causal self-attention, the Pre-LN block, learned or rotary positions, tied embeddings,
a key-value cache, smeared keys (Olsson et al.'s probe), and GPT-2's and Llama's weights copied in by name.

One class covers GPT-2 (LayerNorm, learned positions, GELU MLP, biases) and the Llama-style block (RMSNorm,
rotary positions, SwiGLU, grouped-query attention, no biases): `DecoderShape` says which.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.attention import scaled_dot_product_attention
from course_utils.layers import RMSNorm
from course_utils.losses import IGNORE_INDEX
from course_utils.positions import apply_rope, rope_cos_sin


@dataclass(frozen=True)
class DecoderShape:
    """What a decoder is made of; GPT-2's block by default."""

    vocab_size: int
    context: int  # the most positions it is trained on (and may be asked about)
    layers: int
    heads: int
    width: int
    kv_heads: int | None = None  # grouped-query attention: key/value heads shared by heads // kv_heads queries
    mlp_hidden: int | None = None  # None: 4 x width
    dropout: float = 0.0
    bias: bool = True  # biases in every linear layer and norm
    norm: str = "layernorm"  # or "rmsnorm"
    position: str = "learned"  # or "rope"
    mlp: str = "gelu"  # or "swiglu"
    gelu: str = "tanh"  # GPT-2's tanh approximation, or "exact" (erf)
    eps: float = 1e-5
    rope_base: float = 10000.0
    tie: bool = True  # the output layer reuses the token embedding
    smeared_keys: bool = False  # each key mixes in the previous position's, a learned share per head

    def __post_init__(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"width={self.width} must be a multiple of heads={self.heads}")
        if self.heads % self.key_value_heads:
            raise ValueError(f"heads={self.heads} must be a multiple of kv_heads={self.kv_heads}")
        for name, value, allowed in (
            ("norm", self.norm, ("layernorm", "rmsnorm")),
            ("position", self.position, ("learned", "rope")),
            ("mlp", self.mlp, ("gelu", "swiglu")),
            ("gelu", self.gelu, ("tanh", "exact")),
        ):
            if value not in allowed:
                raise ValueError(f"{name}={value!r} is not one of {allowed}")

    @property
    def head_dim(self) -> int:
        """Each head's width."""
        return self.width // self.heads

    @property
    def key_value_heads(self) -> int:
        """How many heads the keys and values have."""
        return self.kv_heads or self.heads

    @property
    def hidden(self) -> int:
        """The MLP's inner width."""
        return self.mlp_hidden or 4 * self.width


def llama_style(shape: DecoderShape, kv_heads: int | None = None) -> DecoderShape:
    """The same size with the modern parts: RMSNorm, rotary positions, SwiGLU, no biases.

    SwiGLU has three matrices where GELU's MLP has two, so its inner width is 2/3 of 4 x width (rounded to a
    multiple of 8): the block keeps about the same number of parameters.
    """
    hidden = 8 * round(2 * shape.hidden / 3 / 8)
    return replace(
        shape, norm="rmsnorm", position="rope", mlp="swiglu", bias=False, mlp_hidden=hidden, kv_heads=kv_heads
    )


def causal_keep(q_len: int, k_len: int, device=None) -> torch.Tensor:
    """(q_len, k_len) bool: query i (the last q_len of k_len positions) sees keys 0 .. k_len - q_len + i."""
    return torch.ones(q_len, k_len, dtype=torch.bool, device=device).tril(diagonal=k_len - q_len)


class LayerCache:
    """One layer's keys and values so far: (batch, kv_heads, tokens, head_dim) each, or None before the first."""

    def __init__(self) -> None:
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def add(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the new positions' keys and values; return all of them."""
        self.k = k if self.k is None else torch.cat([self.k, k], dim=2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=2)
        return self.k, self.v


class KVCache:
    """Every layer's keys and values: a forward pass with it computes only the new positions."""

    def __init__(self, layers: int) -> None:
        self.layers = [LayerCache() for _ in range(layers)]

    @property
    def length(self) -> int:
        """Positions held so far."""
        first = self.layers[0].k
        return 0 if first is None else first.shape[2]

    def nbytes(self) -> int:
        """The memory the cached tensors take."""
        return sum(t.numel() * t.element_size() for c in self.layers for t in (c.k, c.v) if t is not None)


def cache_bytes(shape: DecoderShape, tokens: int, bytes_per_value: int, batch: int = 1) -> int:
    """The formula: keys and values (2) x layers x tokens x key/value width x bytes (x batch)."""
    return 2 * shape.layers * tokens * shape.key_value_heads * shape.head_dim * bytes_per_value * batch


def smear_keys(k: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """(batch, kv_heads, seq, d) keys -> sigmoid(alpha) k_j + (1 - sigmoid(alpha)) k_(j-1), one alpha a head;
    the first position has no previous key and keeps its own."""
    share = torch.sigmoid(alpha)[None, :, None, None]  # (1, kv_heads, 1, 1)
    previous = torch.cat([k[:, :, :1], k[:, :, :-1]], dim=2)  # k_(j-1); k_0 for j = 0
    return share * k + (1 - share) * previous


def repeat_kv(x: torch.Tensor, times: int) -> torch.Tensor:
    """(batch, kv, seq, d) -> (batch, kv * times, seq, d): each kv head, times times."""
    return x if times == 1 else x.repeat_interleave(times, dim=1)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees positions 0..t only."""

    def __init__(self, shape: DecoderShape) -> None:
        super().__init__()
        self.shape = shape
        d, kv = shape.head_dim, shape.key_value_heads
        self.query = nn.Linear(shape.width, shape.heads * d, bias=shape.bias)
        self.key = nn.Linear(shape.width, kv * d, bias=shape.bias)
        self.value = nn.Linear(shape.width, kv * d, bias=shape.bias)
        self.out = nn.Linear(shape.heads * d, shape.width, bias=shape.bias)
        self.fused = True  # torch's fused kernel; False: chapter 03's scaled_dot_product_attention
        # smeared keys: sigmoid(0) = half the key from the previous position at the start
        self.smear = nn.Parameter(torch.zeros(kv)) if shape.smeared_keys else None

    def split(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        """(batch, seq, heads * d) -> (batch, heads, seq, d)."""
        batch, seq, _ = x.shape
        return x.view(batch, seq, heads, self.shape.head_dim).transpose(1, 2)

    def queries_keys(self, x: torch.Tensor, rope=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, new, width) -> queries (batch, heads, new, d) and keys (batch, kv_heads, new, d)."""
        s = self.shape
        q, k = self.split(self.query(x), s.heads), self.split(self.key(x), s.key_value_heads)
        if self.smear is not None:  # before the rotation: the previous token's content, at this position
            k = smear_keys(k, self.smear)
        if rope is not None:  # turn queries and keys by their positions' angles
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        return q, k

    def forward(self, x: torch.Tensor, rope=None, cache: LayerCache | None = None) -> torch.Tensor:
        s = self.shape
        if cache is not None and self.smear is not None:
            raise ValueError("smeared keys need the previous position's key before rotation, which the cache "
                             "does not keep: run this model without a KV cache")
        q, k = self.queries_keys(x, rope)
        v = self.split(self.value(x), s.key_value_heads)  # (batch, kv_heads, new, d)
        if cache is not None:  # the earlier positions' keys and values, then these
            k, v = cache.add(k, v)  # (batch, kv_heads, past + new, d)
        k, v = repeat_kv(k, s.heads // s.key_value_heads), repeat_kv(v, s.heads // s.key_value_heads)
        keep = causal_keep(q.shape[2], k.shape[2], x.device)  # no position sees the future
        if self.fused:
            p = s.dropout if self.training else 0.0
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=p)
        else:
            context, _ = scaled_dot_product_attention(q, k, v, keep)  # (batch, heads, new, d)
        return self.out(context.transpose(1, 2).flatten(2))  # (batch, new, width)


class MLP(nn.Module):
    """GPT-2's proj(gelu(fc(x))), or Llama's SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, shape: DecoderShape) -> None:
        super().__init__()
        self.shape = shape
        if shape.mlp == "gelu":
            self.fc = nn.Linear(shape.width, shape.hidden, bias=shape.bias)
            self.proj = nn.Linear(shape.hidden, shape.width, bias=shape.bias)
        else:
            self.gate = nn.Linear(shape.width, shape.hidden, bias=shape.bias)
            self.up = nn.Linear(shape.width, shape.hidden, bias=shape.bias)
            self.down = nn.Linear(shape.hidden, shape.width, bias=shape.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shape.mlp == "gelu":
            approximate = "tanh" if self.shape.gelu == "tanh" else "none"
            return self.proj(F.gelu(self.fc(x), approximate=approximate))
        return self.down(F.silu(self.gate(x)) * self.up(x))


def make_norm(shape: DecoderShape) -> nn.Module:
    """LayerNorm (with or without its bias) or chapter 03's RMSNorm."""
    if shape.norm == "rmsnorm":
        return RMSNorm(shape.width, eps=shape.eps)
    return nn.LayerNorm(shape.width, eps=shape.eps, bias=shape.bias)


class Block(nn.Module):
    """The Pre-LN block: x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, shape: DecoderShape) -> None:
        super().__init__()
        self.norm1, self.attn = make_norm(shape), CausalSelfAttention(shape)
        self.norm2, self.mlp = make_norm(shape), MLP(shape)
        self.drop = nn.Dropout(shape.dropout)

    def forward(self, x: torch.Tensor, rope=None, cache: LayerCache | None = None):
        x = x + self.drop(self.attn(self.norm1(x), rope, cache))  # (batch, new, width)
        return x + self.drop(self.mlp(self.norm2(x)))


class GPT(nn.Module):
    """Token (and learned position) embeddings, the blocks, a final norm, and logits over the vocabulary."""

    def __init__(self, shape: DecoderShape) -> None:
        super().__init__()
        self.shape = shape
        self.tokens = nn.Embedding(shape.vocab_size, shape.width)
        self.positions = nn.Embedding(shape.context, shape.width) if shape.position == "learned" else None
        self.drop = nn.Dropout(shape.dropout)
        self.blocks = nn.ModuleList(Block(shape) for _ in range(shape.layers))
        self.norm = make_norm(shape)
        self.head = nn.Linear(shape.width, shape.vocab_size, bias=False)
        if shape.tie:
            self.head.weight = self.tokens.weight  # one matrix: embeds a token in, scores it out
        init_weights(self)

    def forward(
        self, ids: torch.Tensor, cache: KVCache | None = None, prefix: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(batch, new) token ids -> (batch, new, vocab) logits; with `cache`, after the positions it holds. A
        `prefix` of (p, width) vectors is read before the tokens (prompt tuning); its positions get no logits."""
        start = cache.length if cache is not None else 0
        x = self.tokens(ids)  # (batch, new, width)
        if prefix is not None:
            if start:
                raise ValueError("a prefix comes before the first token: pass it with an empty cache, once")
            x = torch.cat([prefix.expand(len(ids), -1, -1), x], dim=1)  # (batch, p + new, width)
        new = x.shape[1]
        if start + new > self.shape.context:
            raise ValueError(
                f"positions {start}..{start + new - 1} are past the context of {self.shape.context}: "
                "keep the last `context` tokens (generate() does), or start a new cache"
            )
        where = torch.arange(start, start + new, device=ids.device)
        rope = None
        if self.positions is not None:
            x = x + self.positions(where)
        else:
            rope = rope_cos_sin(where, self.shape.head_dim, self.shape.rope_base)
            rope = tuple(t.to(ids.device) for t in rope)
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, rope, cache.layers[i] if cache is not None else None)
        if prefix is not None:
            x = x[:, prefix.shape[0] :]  # the tokens' positions only
        return self.head(self.norm(x))  # (batch, new, vocab)

    def use_fused_attention(self, fused: bool) -> GPT:
        """Torch's fused attention kernel (True) or chapter 03's from-scratch one (False)."""
        for block in self.blocks:
            block.attn.fused = fused
        return self


@torch.no_grad()
def init_weights(model: GPT, std: float = 0.02) -> None:
    """GPT-2's initialisation: N(0, 0.02), biases 0, norms 1, and the projections into the residual stream
    N(0, 0.02 / sqrt(2 x layers)): 2 x layers of them add up in the stream."""
    for name, p in model.named_parameters():
        if p.dim() == 1:
            is_norm_weight = name.rsplit(".", 2)[-2].startswith("norm") and name.endswith(".weight")
            nn.init.ones_(p) if is_norm_weight else nn.init.zeros_(p)  # norms' gains 1; every bias 0
        else:
            residual = name.endswith(("attn.out.weight", "mlp.proj.weight", "mlp.down.weight"))
            nn.init.normal_(p, std=std / math.sqrt(2 * model.shape.layers) if residual else std)


def parameter_count(shape: DecoderShape) -> int:
    """The parameters of GPT(shape), by formula."""
    d, h, kv, m, b = (
        shape.width,
        shape.heads * shape.head_dim,
        shape.key_value_heads * shape.head_dim,
        shape.hidden,
        int(shape.bias),
    )
    attention = d * h + 2 * d * kv + h * d + b * (h + 2 * kv + d) + shape.smeared_keys * shape.key_value_heads
    mlp = 2 * d * m + b * (m + d) if shape.mlp == "gelu" else 3 * d * m + b * (2 * m + d)
    norm = d * (1 + (shape.norm == "layernorm" and shape.bias))
    embeddings = shape.vocab_size * d + (shape.context * d if shape.position == "learned" else 0)
    head = 0 if shape.tie else shape.vocab_size * d
    return embeddings + shape.layers * (attention + mlp + 2 * norm) + norm + head


def lm_loss(model: nn.Module, batch: dict) -> torch.Tensor:
    """Next-token cross-entropy, the mean over positions (labels: inputs shifted)."""
    logits = model(batch["input_ids"])  # (batch, seq, vocab)
    labels = batch["labels"]  # (batch, seq): token t + 1 at position t; -100 skipped
    return F.cross_entropy(
        logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX
    )


@torch.no_grad()
def randomize_vectors(model: nn.Module, std: float = 0.1, seed: int = 0) -> nn.Module:
    """Every bias to N(0, std) and every norm gain to 1 + N(0, std): at initialisation they are 0 and 1,
    and an equality check with copied weights would not see a bias or a norm copied to the wrong place."""
    generator = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if p.dim() == 1:
            noise = torch.randn(p.shape, generator=generator) * std
            p.copy_(noise + (1.0 if name.endswith("weight") else 0.0))
    return model


# --- GPT-2's weights by name (transformers' GPT2LMHeadModel) --------------------------------------------------


GPT2_TOP = {"tokens": "transformer.wte", "positions": "transformer.wpe", "norm": "transformer.ln_f"}
GPT2_BLOCK = {"norm1": "ln_1", "norm2": "ln_2", "attn.out": "attn.c_proj", "mlp.fc": "mlp.c_fc",
              "mlp.proj": "mlp.c_proj"}


def renamed(layers: int, top: dict[str, str], block: dict[str, str], prefix: str, params: tuple[str, ...]):
    """Our parameter names -> another implementation's, from its names outside and inside the blocks."""
    names = {f"{o}.{p}": f"{t}.{p}" for o, t in top.items() for p in params}
    for i in range(layers):
        names |= {f"blocks.{i}.{o}.{p}": f"{prefix}.{i}.{t}.{p}" for o, t in block.items() for p in params}
    return names


def gpt2_names(layers: int) -> dict[str, str]:
    """This model's parameter names -> GPT2LMHeadModel's (its c_attn holds query, key and value side by side)."""
    names = renamed(layers, GPT2_TOP, GPT2_BLOCK, "transformer.h", ("weight", "bias"))
    return {o: t for o, t in names.items() if o not in ("tokens.bias", "positions.bias")}


def from_gpt2_state(hf_state: dict[str, torch.Tensor], shape: DecoderShape) -> dict[str, torch.Tensor]:
    """GPT2LMHeadModel's state dict as this model's: Conv1D weights (in, out) transposed, c_attn split in three."""
    ours = {}
    for name, theirs in gpt2_names(shape.layers).items():
        w = hf_state[theirs]
        ours[name] = w.t() if w.dim() == 2 and ".h." in theirs else w  # Conv1D stores (in, out)
    for i in range(shape.layers):
        w, b = hf_state[f"transformer.h.{i}.attn.c_attn.weight"], hf_state[f"transformer.h.{i}.attn.c_attn.bias"]
        for part, wp, bp in zip(("query", "key", "value"), w.t().chunk(3, dim=0), b.chunk(3), strict=True):
            ours[f"blocks.{i}.attn.{part}.weight"], ours[f"blocks.{i}.attn.{part}.bias"] = wp, bp
    ours["head.weight"] = ours["tokens.weight"]
    return ours


def with_zero_biases(model: GPT) -> dict[str, torch.Tensor]:
    """The state dict, with a zero bias beside each weight of a model built without biases (the same function:
    a bias of 0 adds nothing), so that a bias-free GPT-2 block fits GPT2LMHeadModel."""
    state = dict(model.state_dict())
    if not model.shape.bias:
        for name, module in model.named_modules():
            if isinstance(module, (nn.Linear, nn.LayerNorm)) and name != "head":
                state[f"{name}.bias"] = torch.zeros(module.weight.shape[0], dtype=module.weight.dtype)
    return state


def to_gpt2_state(model: GPT) -> dict[str, torch.Tensor]:
    """This model's weights under GPT2LMHeadModel's names and layouts (the inverse of from_gpt2_state)."""
    state, names = with_zero_biases(model), gpt2_names(model.shape.layers)
    theirs = {
        t: (state[o].t() if state[o].dim() == 2 and ".h." in t else state[o]).contiguous() for o, t in names.items()
    }
    for i in range(model.shape.layers):
        parts = [f"blocks.{i}.attn.{p}" for p in ("query", "key", "value")]
        theirs[f"transformer.h.{i}.attn.c_attn.weight"] = torch.cat([state[f"{p}.weight"] for p in parts]).t()
        theirs[f"transformer.h.{i}.attn.c_attn.bias"] = torch.cat([state[f"{p}.bias"] for p in parts])
    theirs["lm_head.weight"] = state["head.weight"]
    return theirs


def gpt2_shape(config) -> DecoderShape:
    """The DecoderShape of a transformers GPT2Config."""
    gelu = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "exact"}
    if config.activation_function not in gelu:
        raise ValueError(f"activation_function={config.activation_function!r}: this GPT has {sorted(gelu)}")
    return DecoderShape(vocab_size=config.vocab_size, context=config.n_positions, layers=config.n_layer,
                        heads=config.n_head, width=config.n_embd, mlp_hidden=config.n_inner,
                        eps=config.layer_norm_epsilon, gelu=gelu[config.activation_function])


def gpt2_config(shape: DecoderShape, **extra):
    """A transformers GPT2Config of this shape (GPT-2's block only; without biases, they are saved as zeros)."""
    from transformers import GPT2Config

    block = (shape.norm, shape.position, shape.mlp, shape.tie, shape.kv_heads, shape.smeared_keys)
    if block != ("layernorm", "learned", "gelu", True, None, False):
        raise ValueError("GPT2LMHeadModel has GPT-2's block only: LayerNorm, learned positions, GELU, tied, "
                         "plain keys")
    p = shape.dropout
    extra = {"bos_token_id": shape.vocab_size - 1, "eos_token_id": shape.vocab_size - 1, **extra}  # END_OF_TEXT
    return GPT2Config(vocab_size=shape.vocab_size, n_positions=shape.context, n_embd=shape.width,
                      n_layer=shape.layers, n_head=shape.heads, n_inner=shape.mlp_hidden,
                      activation_function="gelu_new" if shape.gelu == "tanh" else "gelu",
                      layer_norm_epsilon=shape.eps, resid_pdrop=p, embd_pdrop=p, attn_pdrop=p, **extra)


def from_gpt2(hf_model) -> GPT:
    """A from-scratch GPT holding a GPT2LMHeadModel's weights."""
    shape = gpt2_shape(hf_model.config)
    model = GPT(shape)
    model.load_state_dict(from_gpt2_state(hf_model.state_dict(), shape))
    return model


def to_gpt2(model: GPT, **config_extra):
    """The same weights as a transformers GPT2LMHeadModel (what save_pretrained, peft and TRL take)."""
    from transformers import GPT2LMHeadModel

    hf = GPT2LMHeadModel(gpt2_config(model.shape, **config_extra))
    missing, unexpected = hf.load_state_dict(to_gpt2_state(model), strict=False)
    if unexpected or any(not k.endswith(("attn.bias", "attn.masked_bias")) for k in missing):
        raise KeyError(f"GPT-2 names do not fit: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return hf


# --- Llama's weights by name (transformers' LlamaForCausalLM) -------------------------------------------------


LLAMA_TOP = {"tokens": "model.embed_tokens", "norm": "model.norm", "head": "lm_head"}
LLAMA_BLOCK = {"norm1": "input_layernorm", "norm2": "post_attention_layernorm", "mlp.gate": "mlp.gate_proj",
               "mlp.up": "mlp.up_proj", "mlp.down": "mlp.down_proj", "attn.query": "self_attn.q_proj",
               "attn.key": "self_attn.k_proj", "attn.value": "self_attn.v_proj", "attn.out": "self_attn.o_proj"}


def llama_names(layers: int) -> dict[str, str]:
    """This model's parameter names -> LlamaForCausalLM's (same layouts: both use nn.Linear)."""
    return renamed(layers, LLAMA_TOP, LLAMA_BLOCK, "model.layers", ("weight",))


def llama_config(shape: DecoderShape):
    """A transformers LlamaConfig of a Llama-style shape."""
    from transformers import LlamaConfig

    if (shape.norm, shape.position, shape.mlp, shape.bias, shape.smeared_keys) != ("rmsnorm", "rope", "swiglu",
                                                                                  False, False):
        raise ValueError("LlamaForCausalLM is the Llama-style block: RMSNorm, rotary positions, SwiGLU, no biases, "
                         "plain keys")
    return LlamaConfig(vocab_size=shape.vocab_size, hidden_size=shape.width, intermediate_size=shape.hidden,
                       num_hidden_layers=shape.layers, num_attention_heads=shape.heads,
                       num_key_value_heads=shape.key_value_heads, max_position_embeddings=shape.context,
                       rms_norm_eps=shape.eps, rope_theta=shape.rope_base, tie_word_embeddings=shape.tie,
                       attention_bias=False, mlp_bias=False)


def to_llama_state(model: GPT) -> dict[str, torch.Tensor]:
    """This model's weights under LlamaForCausalLM's names."""
    state = model.state_dict()
    return {theirs: state[ours] for ours, theirs in llama_names(model.shape.layers).items()}
