"""A BERT's parameters counted by group equal the formula from its config."""

from tiny_models import tiny_masked_lm

from course_utils import model_size


def test_parameter_formula_matches_the_model():
    model = tiny_masked_lm(100)
    breakdown = model_size.parameter_breakdown(model)
    assert breakdown == model_size.parameter_formula(model.config)
    assert sum(breakdown.values()) == sum(p.numel() for p in model.parameters())
