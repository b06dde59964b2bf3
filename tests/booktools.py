"""Helpers shared by the book tests: where things are, and the pages of _toc.yml in order."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_pages() -> list[str]:
    """Every document of ``_toc.yml``, root first (paths relative to the root, no extension)."""

    def files(node):
        if isinstance(node, dict):
            if "file" in node:
                yield node["file"]
            for value in node.values():
                if isinstance(value, (list, dict)):
                    yield from files(value)
        elif isinstance(node, list):
            for item in node:
                yield from files(item)

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"], *files(toc)]
