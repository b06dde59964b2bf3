"""The public API: every module in ``minime.__all__`` imports, every public name it exports
exists and carries a docstring a reader can use without the body (style rule 3)."""

import importlib
import inspect
import pkgutil

import pytest
from torch import nn

import minime

MODULES = sorted(minime.__all__)
#: Every module of the library, packages' submodules included.
ALL_MODULES = sorted(m.name for m in pkgutil.walk_packages(minime.__path__, "minime."))


def public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:  # modules without __all__: their own public functions and classes
        names = [n for n, v in vars(module).items() if not n.startswith("_")
                 and (inspect.isfunction(v) or inspect.isclass(v))
                 and getattr(v, "__module__", "") == module.__name__]
    return names


def test_every_top_level_name_is_a_module_of_the_map():
    assert set(MODULES) <= {m.split(".")[1] for m in ALL_MODULES}
    for name in MODULES:
        assert getattr(minime, name) is importlib.import_module(f"minime.{name}")


@pytest.mark.parametrize("name", [m.removeprefix("minime.") for m in ALL_MODULES])
def test_module_imports_and_documents_its_public_names(name):
    module = importlib.import_module(f"minime.{name}")
    assert (module.__doc__ or "").strip(), f"minime.{name} has no module docstring"
    for public in public_names(module):
        obj = getattr(module, public)  # AttributeError here: __all__ names a missing object
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        doc = inspect.getdoc(obj) or ""
        assert doc.strip(), f"minime.{name}.{public} has no docstring"
        if inspect.isclass(obj) and issubclass(obj, nn.Module) and not inspect.isabstract(obj):
            assert "Args:" in doc or "Example:" in doc, f"{public}: document Args and an Example"


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        minime.nope
