"""Weights are loaded only in ways that cannot run code: safetensors, or torch.load(weights_only=True); no
trust_remote_code anywhere. Checked over the package, the notebooks and the test helpers."""

import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sources() -> dict[str, str]:
    """name -> Python source of every module of the package, every notebook's code and the test helpers."""
    found = {str(p.relative_to(ROOT)): p.read_text() for p in sorted((ROOT / "course_utils").glob("*.py"))}
    found.update({str(p.relative_to(ROOT)): p.read_text() for p in sorted((ROOT / "tests").glob("*.py"))})
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        found[str(path.relative_to(ROOT))] = "\n".join(
            line for cell in code for line in cell.splitlines() if not line.startswith(("!", "%"))
        )
    return found


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    """Calls of a function or method called `name` (torch.load, pickle.load ...)."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == name
    ]


def keyword(call: ast.Call, name: str):
    """The constant value of keyword `name` in `call` (None if absent or not a constant)."""
    return next((k.value.value for k in call.keywords if k.arg == name and isinstance(k.value, ast.Constant)), None)


def test_torch_load_is_always_weights_only():
    for name, source in sources().items():
        for call in calls(ast.parse(source), "load"):
            if ast.unparse(call.func) in ("torch.load",):
                assert keyword(call, "weights_only") is True, (
                    f"{name}:{call.lineno}: torch.load(..., weights_only=True)"
                )


def test_no_pickle_and_no_remote_code():
    this_file = Path(__file__).name
    for name, source in sources().items():
        tree = ast.parse(source)
        if not name.endswith(this_file):
            assert "trust_remote_code" not in source, f"{name}: never trust_remote_code"
        for call in calls(tree, "load") + calls(tree, "loads"):
            assert ast.unparse(call.func) not in ("pickle.load", "pickle.loads"), f"{name}:{call.lineno}: no pickle"


def test_transformers_models_load_from_safetensors_only():
    from course_utils import resources

    seen = {}

    class Recorder:  # stands in for a transformers Auto class
        @classmethod
        def from_pretrained(cls, location, **kwargs):
            seen.update(kwargs)

    resources.from_pretrained(Recorder, "smoke")
    assert seen.get("use_safetensors") is True, "a model is read from model.safetensors, never a pickled .bin"
