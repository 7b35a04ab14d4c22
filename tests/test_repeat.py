"""Seeded runs repeat: chapter 02's pretraining, run in two fresh processes, gives the same numbers.

Two processes with different hash seeds, so set and dict order cannot hide in the result (the WordPiece
vocabulary once depended on it). Each trains the smoke profile's tiny BERT from the tokenizer up and prints
its losses and a hash of its weights; both must be equal to the last bit.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = """
import hashlib, json, torch
from dataclasses import replace
from transformers import BertConfig, BertForMaskedLM
from course_utils import mlm, mlm_data
from course_utils.config import MLM

torch.set_num_threads(1)
cfg = replace(MLM.pick("smoke"), corpus_lines=600, max_steps=6, eval_every=3, time_budget_s=None)
data = mlm_data.load_mlm_data(cfg)
config = BertConfig(vocab_size=len(data.tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=64, max_position_embeddings=cfg.block_size)
torch.manual_seed(cfg.seed)
model = BertForMaskedLM(config)
held = mlm_data.held_out_batches(data, batch_size=16)
history = mlm.pretrain(model, data, cfg, evaluate=lambda m: mlm.evaluate_mlm(m, held), progress=False)
weights = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()
vocab = hashlib.sha256(json.dumps(sorted(data.tokenizer.get_vocab().items())).encode()).hexdigest()
print(json.dumps({"losses": [s["loss"] for s in history.steps], "evals": history.evals, "weights": weights,
                  "vocab": vocab}))
"""


def run_once(hash_seed: str) -> dict:
    """One fresh process's losses, evaluations and weight hash."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "COURSE_PROFILE": "smoke", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", RUN], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_pretraining_repeats_in_a_fresh_process():
    first, second = run_once("1"), run_once("2")
    assert first["vocab"] == second["vocab"], "the tokenizer differs between processes"
    assert first["losses"] == second["losses"] and first["evals"] == second["evals"]
    assert first["weights"] == second["weights"]
    assert len(first["losses"]) == 6
