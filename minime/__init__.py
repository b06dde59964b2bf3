"""minime: multi-embedding, STEM and collapse analysis for ads recommendation.

The library behind the book *minime*, which teaches "Ads Recommendation in a Collapsed and
Entangled World" (Pan et al., KDD 2024) with its two sources, multi-embedding against embedding
collapse (Guo et al., ICML 2024) and STEM against interest entanglement (Su et al., AAAI 2024).

Notation used in shapes throughout the code::

    B  batch size               F  number of fields
    D  embedding dimension      M  number of embedding sets (tables) in a multi-embedding
    T  number of tasks          E  number of experts
    N  number of rows           V  vocabulary size of one field (its cardinality)

Ids are int64 end to end; models return logits of shape (B, T).
"""

__version__ = "0.1.0"

__all__ = [
    "analysis",
    "data",
    "embedding",
    "experiments",
    "experts",
    "interaction",
    "metrics",
    "models",
    "mtl_study",
    "notebook",
    "plots",
    "scales",
    "train",
]


def __getattr__(name: str):
    """Import submodules on first use: ``import minime; minime.analysis``."""
    if name in __all__:
        import importlib

        return importlib.import_module(f"minime.{name}")
    raise AttributeError(f"module 'minime' has no attribute {name!r}")
