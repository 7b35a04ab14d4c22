"""The chapters, declared once: what each needs from earlier ones, what it keeps, its time budgets.

The Makefile's notebook stages, Colab's set-up, the notebook tests, the README's and the intro's
chapter tables and the usage table all read `CHAPTERS`; a test fails when a notebook, `_toc.yml`
and this list disagree.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

SMOKE_BUDGET_S = 90  # every smoke notebook: mechanics, not results
CPU_BUDGET_S = 15 * 60  # every cpu chapter on a 2-core laptop


@dataclass(frozen=True)
class Chapter:
    """One numbered notebook and its place among the others."""

    number: str  # "04": the notebook's file starts with it
    title: str  # the README's chapter table
    short_title: str  # the intro's chapter table
    builds: str  # the intro's "what you build"
    notebook: str  # file name under notebooks/
    needs: tuple[str, ...] = ()  # chapters whose saved things it loads (they run first)
    keeps: tuple[str, ...] = ()  # folders it saves under the artifacts folder for later chapters
    runs_alone: bool = False  # it measures the machine under load: nothing else may run beside it
    rehearsed: bool = False  # `full` loads Hub resources: make test runs that path on local stand-ins
    smoke_budget_s: int = SMOKE_BUDGET_S
    cpu_budget_s: int = CPU_BUDGET_S

    @property
    def path(self) -> str:
        """The notebook's path from the repository root."""
        return f"notebooks/{self.notebook}"

    def budget_s(self, profile: str) -> int | None:
        """Its time budget in `profile` (None for `full`: a GPU's speed is not the course's to budget)."""
        return {"smoke": self.smoke_budget_s, "cpu": self.cpu_budget_s}.get(profile)

    @property
    def keep_on_drive(self) -> bool:
        """On Colab each notebook gets a new machine: what it keeps or needs must live on Drive."""
        return bool(self.keeps or self.needs)


CHAPTERS: tuple[Chapter, ...] = (
    Chapter(
        "01", "GPU/CUDA environment check", "Environment check",
        "a report of your GPU, CUDA and packages, and a matmul benchmark",
        "01_environment_check.ipynb",
    ),
    Chapter(
        "02", "The math of masked-language-model loss and cross-entropy", "The math of MLM and cross-entropy",
        "softmax, cross-entropy and the masked-language-model loss, derived and checked; a tiny BERT pretrained "
        "from scratch",
        "02_mlm_and_cross_entropy.ipynb",
    ),
    Chapter(
        "03", "LayerNorm from scratch", "LayerNorm from scratch",
        "forward and backward by hand, its relatives, Pre-LN vs Post-LN",
        "03_layernorm_from_scratch.ipynb",
    ),
    Chapter(
        "04", "BERT NER fine-tuning", "BERT NER fine-tuning",
        "entity-level NER done right: label alignment, seqeval, dynamic padding",
        "04_bert_ner_finetuning.ipynb", keeps=("ner-model",), rehearsed=True,
    ),
    Chapter(
        "05", "PEFT and quantization", "PEFT and quantization",
        "LoRA from scratch and with `peft`, int8/4-bit, pruning, side by side",
        "05_peft_and_quantization.ipynb", needs=("04",), keeps=("peft-runs",), rehearsed=True,
    ),
    Chapter(
        "06", "Serving: ONNX export, an HTTP service, load test, demo page", "Serving",
        "ONNX export and ONNX Runtime int8, a FastAPI service with clear errors, micro-batching under a load "
        "test, a demo page checked in a browser, a model card",
        "06_serving.ipynb", needs=("04",), rehearsed=True,
        runs_alone=True,  # a load test: the service must have the machine to itself
    ),
    Chapter(
        "07", "Trust: explanations, a fairness probe, continual learning", "Trust",
        "integrated gradients from scratch (complete, checked against Captum) against attention weights, a "
        "first-name fairness probe with intervals and a mitigation, catastrophic forgetting in two stages and "
        "five ways through it",
        "07_trust.ipynb", needs=("04",), rehearsed=True,
    ),
    Chapter(
        "08", "A GPT from scratch: byte-level BPE, the causal decoder, pretraining, sampling, the KV cache",
        "A GPT from scratch",
        "byte-level BPE, a GPT equal to transformers' GPT-2 and Llama blocks, nanoGPT's baby GPT pretrained, "
        "sampling and the KV cache from scratch",
        "08_gpt_from_scratch.ipynb", keeps=("gpt-model",), rehearsed=True,
    ),
    Chapter(
        "09", "From a text predictor to an assistant: chat templates, SFT, LoRA on a decoder, DPO",
        "From a text predictor to an assistant",
        "instruction data a program checks, a Jinja chat template with reply-only labels, SFT with fair "
        "ablations (the loss mask, full vs LoRA), forgetting and a learning curve, generative NER beside "
        "chapter 04's tagger, DPO from scratch checked against TRL",
        "09_assistant.ipynb", needs=("04", "08"), keeps=("assistant-model",), rehearsed=True,
    ),
    Chapter(
        "10", "Prompts, a few examples and in-context learning: zero/few-shot, induction heads, soft prompts, "
        "adapters",
        "Prompts, few examples, in-context learning",
        "zero- and few-shot span typing with a prompt-sensitivity spread, copying heads found, knocked out, "
        "watched forming and told induction from position, induction heads grown in one layer with smeared keys, "
        "few-shot prompts, prompt tuning checked against peft, adapters from scratch, and every "
        "parameter-efficient method in one fair table at two data sizes",
        "10_prompts_and_adapters.ipynb", needs=("04", "05", "08", "09"), rehearsed=True,
    ),
)
SOLUTIONS = "solutions.ipynb"  # runs with the chapters that need nothing


def by_number(number: str) -> Chapter:
    """The chapter numbered `number` ("04" or 4); a clear error for one that does not exist."""
    key = f"{int(number):02d}" if str(number).isdigit() else str(number)
    for chapter in CHAPTERS:
        if chapter.number == key:
            return chapter
    raise KeyError(f"no chapter {number!r}: the chapters are {', '.join(c.number for c in CHAPTERS)}")


def by_notebook(name: str) -> Chapter:
    """The chapter whose notebook file is `name` (a path or a file name)."""
    return by_number(name.rsplit("/", 1)[-1][:2])


def check_order() -> None:
    """Every chapter needs only earlier chapters, and only ones that keep something."""
    for i, chapter in enumerate(CHAPTERS):
        for need in chapter.needs:
            earlier = {c.number: c for c in CHAPTERS[:i]}
            if need not in earlier:
                raise ValueError(f"chapter {chapter.number} needs {need}, which is not an earlier chapter")
            if not earlier[need].keeps:
                raise ValueError(f"chapter {chapter.number} needs {need}, which keeps nothing")


def stages(only: tuple[Chapter, ...] | None = None) -> list[list[str]]:
    """Groups of notebooks that may run side by side, in order: a chapter runs after what it needs,
    a chapter that runs alone gets a stage of its own (`only`: these chapters, without the solutions)."""
    check_order()
    level: dict[str, int] = {}
    for chapter in CHAPTERS:
        level[chapter.number] = 1 + max((level[n] for n in chapter.needs), default=-1)
    groups: list[list[str]] = []
    for depth in sorted(set(level.values())):
        here = [c for c in CHAPTERS if level[c.number] == depth and (only is None or c in only)]
        solutions = [f"notebooks/{SOLUTIONS}"] if depth == 0 and only is None else []
        shared = [c.path for c in here if not c.runs_alone] + solutions
        groups += [shared] if shared else []
        groups += [[c.path] for c in here if c.runs_alone]
    return groups


def readme_table() -> str:
    """The README's chapter table."""
    rows = ["| # | chapter | notebook |", "|---|---|---|"]
    for c in CHAPTERS:
        listed = f"{', '.join(c.needs[:-1])} and {c.needs[-1]}" if len(c.needs) > 1 else "".join(c.needs)
        which = f"chapter {listed}" if len(c.needs) == 1 else f"chapters {listed}"
        reads = f" (reads what {which} saved)" if c.needs else ""
        rows.append(f"| {c.number} | {c.title} | `{c.path}`{reads} |")
    return "\n".join(rows)


def intro_table() -> str:
    """The book intro's chapter table."""
    rows = ["| chapter | what you build |", "|---|---|"]
    rows += [f"| {c.number} · {c.short_title} | {c.builds} |" for c in CHAPTERS]
    return "\n".join(rows)


def main(argv: list[str]) -> None:
    """`python -m course_utils.chapters stages|rehearsed|notebooks|tables`: for the Makefile and the docs."""
    if argv == ["stages"]:  # one line per stage
        print("\n".join(" ".join(group) for group in stages()))
    elif argv == ["rehearsed"]:
        print(" ".join(c.path for c in CHAPTERS if c.rehearsed))
    elif argv == ["notebooks"]:
        print(" ".join(c.path for c in CHAPTERS))
    elif argv == ["tables"]:  # paste into README.md and book/intro.md
        print(f"{readme_table()}\n\n{intro_table()}")
    else:
        raise SystemExit("usage: python -m course_utils.chapters stages|rehearsed|notebooks|tables")


if __name__ == "__main__":
    main(sys.argv[1:])
