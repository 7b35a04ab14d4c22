"""Write the smoke book's _config.yml: the book's own, with execution off (the notebooks come executed).

Usage: python tests/smoke_config.py SOURCE TARGET
"""

import sys
from pathlib import Path

import yaml


def smoke_config(source: Path, target: Path) -> None:
    """Copy `source` to `target` with execute.execute_notebooks set to "off"; fail if the key moved."""
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    if "execute_notebooks" not in config.get("execute", {}):
        raise SystemExit(f"{source} has no execute.execute_notebooks: the smoke book cannot turn execution off")
    config["execute"]["execute_notebooks"] = "off"
    target.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")


if __name__ == "__main__":
    smoke_config(Path(sys.argv[1]), Path(sys.argv[2]))
