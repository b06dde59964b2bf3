"""minime: multi-embedding, STEM and collapse analysis for ads recommendation.

The library behind the book *minime*, which teaches "Ads Recommendation in a Collapsed and
Entangled World" (Pan et al., KDD 2024) with its two sources, multi-embedding against embedding
collapse (Guo et al., ICML 2024) and STEM against interest entanglement (Su et al., AAAI 2024).

The map: the paper's figure 1 as folders. Data flows left to right; a module imports only from
the layers to its left (a test checks it)::

    data ─> embedding ─> blocks ─> interaction ─┐
                                   experts ─────┤
                                   encoders ────┴─> models ─> train ────┐
                                                            └> analysis ┴─> studies ─> notebook
    metrics, progress: leaves any layer may use              plots (figures from arrays)  widgets

    data/         TensorData (int64 ids, labels, meta), the synthetic world and its truth
    embedding     FusedEmbedding (one set), MultiEmbedding (M sets: ME, STEM, AME), one gather
    encoders/     features with priors: MNSE (numerics), HashID (LSH codes), Similarity Encoding
    blocks        MLP, MLPExperts (E MLPs in one batched product)
    interaction   FM, FwFM, IPNN, CrossNetV2 (DCNv2), FieldWeightedCrossNet
    experts       SoftmaxGate, mix (with stop-gradients), MixtureLayer (MMoE / CGC / STEM level)
    models/       single.py, restricted.py (SE CTR models), multi_embedding.py, linear_me.py (ME),
                  multi_task.py (SharedBottom, MMoE, PLE, ME-MMoE, STEM-Net), multi_table.py
                  (AME, STEM-AL, scenarios), registry.py (build, num_parameters, predict)
    train         fit (early stopping), evaluate;  optimizers: Adam / SparseAdam
    analysis/     collapse (spectra, IA), diversity, transfer, entanglement, gradients, gates,
                  correlation (CTC)
    plots/        one function per figure: arrays in, a plotly Figure out
    studies/      the book's cached experiments, the scale presets, Results (statistics)
    notebook, widgets   chapter set-up and glue; ipywidgets panels

Notation used in shapes throughout the code::

    B  batch size               F  number of fields
    D  embedding dimension      M  number of embedding sets (num_embeddings)
    T  number of tasks          E  number of experts
    N  number of rows           V  vocabulary size of one field (its cardinality)

Ids are int64 end to end; models return logits of shape (B, T).
"""

__version__ = "0.1.0"

__all__ = [
    "analysis",
    "blocks",
    "data",
    "embedding",
    "encoders",
    "experts",
    "interaction",
    "metrics",
    "models",
    "notebook",
    "optimizers",
    "plots",
    "progress",
    "studies",
    "train",
    "widgets",
]


def __getattr__(name: str):
    """Import submodules on first use: ``import minime; minime.analysis``."""
    if name in __all__:
        import importlib

        return importlib.import_module(f"minime.{name}")
    raise AttributeError(f"module 'minime' has no attribute {name!r}")
