"""The book's plumbing: paired notebooks in sync and without outputs, toc and README agree,
every chapter starts with the Colab install cell at the pinned version and calls setup()."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext
import pytest
import tomllib

import minime
from booktools import ROOT, toc_pages

BOOK = ROOT / "book"
SOURCES = sorted(BOOK.glob("*.md"))
NOTEBOOKS = [md for md in SOURCES if md.read_text().startswith("---\njupytext:")]
INSTALL = f'%pip install -q "minime @ git+https://github.com/minime-book/minime@v{minime.__version__}"'


def cells(path: Path) -> list[tuple[str, str, tuple]]:
    nb = jupytext.read(path)
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", []))) for c in nb.cells]


def test_every_notebook_page_is_paired_and_in_sync():
    assert NOTEBOOKS, "no MyST notebooks found in book/"
    for md in NOTEBOOKS:
        twin = md.with_suffix(".ipynb")
        assert twin.exists(), f"{md.name} has no paired {twin.name}: jupytext --sync {md}"
        assert cells(md) == cells(twin), f"{twin.name} is out of date: jupytext --sync {md}"
    orphans = {p.stem for p in BOOK.glob("*.ipynb")} - {md.stem for md in NOTEBOOKS}
    assert not orphans, f"notebooks without a .md source: {sorted(orphans)}"


@pytest.mark.parametrize("twin", sorted(BOOK.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_carry_no_outputs(twin):
    nb = json.loads(twin.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{twin.name} has outputs: strip them"
            assert cell.get("execution_count") is None, f"{twin.name} has execution counts"
    meta = nb.get("metadata", {})
    assert "widgets" not in meta, f"{twin.name} carries saved widget state"
    assert not meta.get("execution", {}).get("timeout"), (
        f"{twin.name} sets metadata.execution.timeout, which silently overrides --nbmake-timeout"
    )


@pytest.mark.parametrize("md", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_starts_with_pinned_colab_install_and_setup(md):
    code = [c for c in cells(md) if c[0] == "code"]
    kind, source, tags = code[0]
    assert "remove-cell" in tags, f"{md.name}: the Colab install cell must be tagged remove-cell"
    assert 'if "google.colab" in sys.modules:' in source, f"{md.name}: install only on Colab"
    assert INSTALL in source, f"{md.name}: install cell must pin v{minime.__version__}"
    assert any("notebook.setup(" in c[1] for c in code[1:3]), f"{md.name}: call notebook.setup()"


def test_toc_lists_every_page_and_readme_lists_every_chapter():
    files = toc_pages()
    for doc in files:
        assert (ROOT / f"{doc}.md").exists(), f"_toc.yml names {doc}, which does not exist"
    pages = {f"book/{p.stem}" for p in SOURCES}
    assert pages == set(files), f"pages not in _toc.yml: {sorted(pages - set(files))}"
    readme = (ROOT / "README.md").read_text()
    for doc in files:
        title = jupytext.read(ROOT / f"{doc}.md").cells[0].source.splitlines()[0]
        title = re.sub(r"^#\s*(\d+\.\s*)?", "", title).strip()
        if re.match(r"book/\d", doc):
            assert title in readme, f"README's chapter list lacks {title!r} ({doc})"


def test_requirements_pin_the_toolchain():
    req = (ROOT / "requirements.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in req if "==" in line and not line.startswith("#"))
    pins = {k.strip(): v.split()[0] for k, v in pins.items()}
    assert pins["torch"] == "2.13.0"
    assert pins["jupyter-book"] == "1.0.4.post1"
    for name in ["jupytext", "nbmake", "plotly", "ipywidgets", "numpy", "pytest", "pytest-xdist",
                 "hypothesis", "scikit-learn", "sphinx-exercise", "tqdm"]:
        assert name in pins, f"requirements.txt does not pin {name}"
    assert "-e ." in req


def test_package_dependencies_are_loose_floors():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in deps if "==" in d or "<" in d], f"pins in pyproject.toml: {deps}"
    assert "torch>=2.1" in deps and "ipywidgets>=7.7" in deps


def test_every_citation_has_a_bibliography_entry_and_every_entry_is_cited():
    bib = (ROOT / "book" / "references.bib").read_text()
    entries = re.findall(r"^@\w+\{([^,]+),", bib, flags=re.M)
    assert len(entries) == len(set(entries)) >= 15, f"{len(entries)} entries (need ≥ 15, unique)"
    cited = {key.strip() for md in sorted((ROOT / "book").glob("*.md"))
             for keys in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", md.read_text())
             for key in keys.split(",")}
    assert cited - set(entries) == set(), f"cited but not in references.bib: {cited - set(entries)}"
    assert set(entries) - cited == set(), f"in references.bib but cited nowhere: {set(entries) - cited}"
    for md in sorted((ROOT / "book").glob("[0-9]*.md")):  # a chapter's list names what it cites
        text = md.read_text()
        head, _, refs = text.partition("## References")
        used = {k.strip() for keys in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", head)
                for k in keys.split(",")}
        listed = set(re.findall(r"\{cite:t\}`([^`]+)`", refs))
        assert used <= listed, f"{md.name}: cited but missing from its References: {used - listed}"


@pytest.mark.parametrize("md", [p for p in SOURCES if p.name[0].isdigit()], ids=lambda p: p.name)
def test_every_assert_in_a_chapter_states_what_it_measured(md):
    import ast

    bare = []
    for kind, source, _ in cells(md):
        if kind != "code":
            continue
        code = "\n".join(line.replace("%", "pass  # %", 1) if line.lstrip().startswith("%") else line
                         for line in source.splitlines())  # a magic: a statement ast can read
        bare += [f"{md.name}: assert {ast.unparse(node.test)[:80]}" for node in ast.walk(ast.parse(code))
                 if isinstance(node, ast.Assert) and node.msg is None]
    assert not bare, "asserts without a message (state the measured value and the threshold):\n" + \
        "\n".join(bare)
