"""Keep third-party import noise that says nothing to a learner out of the notebooks."""

import logging
import warnings

import torch

# The torchao wheels on PyPI carry CUDA-only kernels (CUTLASS sm90a, MXFP8). On a CPU-only
# PyTorch they cannot load, and torchao logs one "Failed to load ..." line per file at every
# import - which happens inside `import transformers`. Nothing the course uses needs them.
_TORCHAO_CUDA_ONLY = ("_C_cutlass", "_C_mxfp8")
# torchao 0.17+ still registers its enums with torch.compile the pre-2.13 way; torch logs a
# deprecation line for each. It is a message for torchao's developers, not for learners.
_PYTREE_ENUM_DEPRECATION = "is an Enum subclass and is now natively supported"
# peft 0.21 asks transformers 5.23 the old name of a property on every get_peft_model().
_PEFT_GRADIENT_CHECKPOINTING = r"`is_gradient_checkpointing` is deprecated"
# torch.compile of a torchao int8 model: torchao's tensor subclass has no cache hash yet, so torch says it
# will not cache the compiled graph across runs - a note for torchao's developers.
_TORCHAO_COMPILE_CACHE = r"Int8Tensor does not implement _stable_hash_for_caching"


class _DropMessages(logging.Filter):
    """Drop log records whose message contains one of `needles`."""

    def __init__(self, needles: tuple[str, ...]) -> None:
        super().__init__()
        self.needles = needles

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(needle in message for needle in self.needles)


def quiet_torchao_import() -> None:
    """Filter the known, harmless torchao import messages and peft's deprecated-name warning (nothing else)."""
    if torch.version.cuda is None:  # CPU-only build: the CUDA kernels can never load
        logging.getLogger("torchao").addFilter(_DropMessages(_TORCHAO_CUDA_ONLY))
    logging.getLogger("torch.utils._pytree").addFilter(_DropMessages((_PYTREE_ENUM_DEPRECATION,)))
    warnings.filterwarnings("ignore", message=_PEFT_GRADIENT_CHECKPOINTING, category=FutureWarning)
    warnings.filterwarnings("ignore", message=_TORCHAO_COMPILE_CACHE, category=UserWarning)
