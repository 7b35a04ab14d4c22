"""Shared code of the course "Large-model development and fine-tuning from scratch".

Importing the package does two things on purpose, before `transformers` is imported:
- in the `smoke` and `cpu` profiles it sets `HF_HUB_OFFLINE=1` (and the `datasets` and
  `transformers` equivalents), so nothing in those profiles can reach for the network;
- it keeps the import of `torchao` quiet on a CPU-only PyTorch (see `_quiet`).
"""

from course_utils._quiet import quiet_torchao_import
from course_utils.config import apply_profile_environment

__version__ = "0.1.0"

apply_profile_environment()
quiet_torchao_import()
