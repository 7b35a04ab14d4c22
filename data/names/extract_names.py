"""Rebuild first_names.tsv from Faker's person providers: pip install faker==40.54.0, then run this file."""

from __future__ import annotations

import importlib
import re
import sys
from collections import defaultdict
from pathlib import Path

import faker

VERSION = "40.54.0"
# origin group -> Faker locales whose first-name lists it pools (Latin-script lists only)
ORIGINS = {
    "English-speaking": ("en_US", "en_GB"),
    "Spanish-speaking": ("es_MX", "es_ES"),
    "South Asian": ("en_IN",),
    "West African": ("yo_NG", "ig_NG", "ha_NG", "tw_GH"),
    "East African": ("sw",),
    "Japanese": ("ja_JP",),
}
# Faker's attribute holding each gender's list; Japanese has romanized lists beside the kana ones
ATTRIBUTES = {"female": "first_names_female", "male": "first_names_male"}
ROMANIZED = {"female": "first_romanized_names_female", "male": "first_romanized_names_male"}
ASCII_NAME = re.compile(r"[A-Z][a-z]{2,11}")  # one capitalised ASCII word of 3-12 letters


def main(out: Path) -> None:
    """Write name, gender, origin, locale rows: names listed under one (gender, origin) cell only."""
    if faker.VERSION != VERSION:
        sys.exit(f"faker {faker.VERSION} is installed; this list was built from {VERSION}")
    cells: dict[str, set[tuple[str, str, str]]] = defaultdict(set)  # name -> (gender, origin, locale)
    for origin, locales in ORIGINS.items():
        for locale in locales:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
            for gender, attribute in ATTRIBUTES.items():
                names = getattr(provider, ROMANIZED[gender], None) or getattr(provider, attribute)
                for name in names:
                    if ASCII_NAME.fullmatch(name):
                        cells[name].add((gender, origin, locale))
    rows = []
    for name, found in sorted(cells.items()):
        if len({(gender, origin) for gender, origin, _ in found}) == 1:  # one cell: unambiguous
            gender, origin, _ = min(found)
            locales = ",".join(sorted(locale for _, _, locale in found))
            rows.append(f"{name}\t{gender}\t{origin}\t{locales}")
    out.write_text("name\tgender\torigin\tlocales\n" + "\n".join(rows) + "\n")
    print(f"{len(rows)} names -> {out}")


if __name__ == "__main__":
    main(Path(__file__).with_name("first_names.tsv"))
