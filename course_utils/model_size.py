"""A BERT's size: its parameters counted by group in the model, and the same counts from its config alone."""

from __future__ import annotations

import torch


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
