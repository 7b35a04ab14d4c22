"""Seeded runs repeat: the chapters' training, run in two fresh processes, gives the same numbers.

Two processes with different hash seeds, so set and dict order cannot hide in the result (the WordPiece
vocabulary once depended on it). Each trains, from the tokenizer up, chapter 02's masked LM and its
sentence-pair run (fresh pairs and masks drawn by the seed), chapter 03's repeat-task encoder and a
chapter-04 fine-tuning of the smoke encoder, and prints their losses and a hash of the weights; both
processes must agree to the last bit.
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

from transformers import BertForPreTraining
from course_utils import layers, ner, ner_data, nsp
from course_utils.config import LAYERNORM, NER
from course_utils.train import fit

torch.manual_seed(cfg.seed)
pairs = nsp.pretrain_pairs(BertForPreTraining(config), data.tokenizer, nsp.cut_segments(data.train_ids, 14), "sop",
                           1.0, replace(cfg, pair_steps=4), progress=False)
ln = LAYERNORM.pick("smoke")
task = layers.repeat_task_rows(64, ln.task_len, ln.task_vocab, seed=0)
torch.manual_seed(0)
encoder = layers.TinyEncoderMLM(ln.task_vocab, 16, 1, 2, ln.task_len, "post")
placement = fit(encoder, torch.utils.data.DataLoader(task, batch_size=16), replace(ln.train_config(1e-2, 1),
                max_steps=4), progress=False)
ner_cfg = replace(NER.pick("smoke"), max_train_sentences=32, max_eval_sentences=16, num_epochs=1)
from course_utils.resources import from_pretrained
from transformers import AutoTokenizer
tagger = ner.new_token_classifier(0, quiet=True, cfg=ner_cfg)
tuned = ner.fine_tune(tagger, ner_data.prepare_ner_data(ner_cfg, from_pretrained(AutoTokenizer)), ner_cfg,
                      progress=False)
print(json.dumps({"losses": [s["loss"] for s in history.steps], "evals": history.evals, "weights": weights,
                  "vocab": vocab, "pairs": [s["loss"] for s in pairs.steps],
                  "placement": [s["loss"] for s in placement.steps],
                  "fine-tuning": [s["loss"] for s in tuned.history.steps], "dev": tuned.history.evals}))
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
    for run in ("pairs", "placement", "fine-tuning", "dev"):
        assert first[run] == second[run], f"{run} differs between processes"
    assert len(first["losses"]) == 6 and len(first["pairs"]) == len(first["placement"]) == 4
