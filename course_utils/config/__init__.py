"""The course's configs: the profile machinery, the loop's settings, and one module per chapter.

`from course_utils.config import NER` keeps working: every chapter's config is re-exported here.
"""

from course_utils.config.ch01_environment import ENV_CHECK, EnvCheckConfig
from course_utils.config.ch02_mlm import MLM, MLM_EXPECT, MLMConfig, MLMExpectations
from course_utils.config.ch03_layernorm import LAYERNORM, LAYERNORM_EXPECT, LayerNormConfig, LayerNormExpectations
from course_utils.config.ch04_ner import NER, NER_EXPECT, NERConfig, NERExpectations
from course_utils.config.ch05_peft import PEFT, PEFT_EXPECT, PEFTConfig, PEFTExpectations
from course_utils.config.ch06_serving import BACKENDS, SERVE, SERVE_EXPECT, ServeConfig, ServeExpectations
from course_utils.config.ch07_trust import TRUST, TRUST_EXPECT, TrustConfig, TrustExpectations
from course_utils.config.ch08_gpt import GPT, GPT_EXPECT, GPTConfig, GPTExpectations, Recipe
from course_utils.config.loop import TrainConfig
from course_utils.config.profiles import (
    OFFLINE_PROFILES,
    PROFILE_HELP,
    PROFILES,
    Bounds,
    Checked,
    Profiles,
    apply_profile_environment,
    check_ranges,
    get_profile,
    get_sizes,
)

__all__ = [
    "BACKENDS",
    "ENV_CHECK",
    "GPT",
    "GPT_EXPECT",
    "LAYERNORM",
    "LAYERNORM_EXPECT",
    "MLM",
    "MLM_EXPECT",
    "NER",
    "NER_EXPECT",
    "OFFLINE_PROFILES",
    "PEFT",
    "PEFT_EXPECT",
    "PROFILES",
    "PROFILE_HELP",
    "SERVE",
    "SERVE_EXPECT",
    "TRUST",
    "TRUST_EXPECT",
    "Bounds",
    "Checked",
    "EnvCheckConfig",
    "GPTConfig",
    "GPTExpectations",
    "LayerNormConfig",
    "LayerNormExpectations",
    "MLMConfig",
    "MLMExpectations",
    "NERConfig",
    "NERExpectations",
    "PEFTConfig",
    "PEFTExpectations",
    "Profiles",
    "Recipe",
    "ServeConfig",
    "ServeExpectations",
    "TrainConfig",
    "TrustConfig",
    "TrustExpectations",
    "apply_profile_environment",
    "check_ranges",
    "get_profile",
    "get_sizes",
]
