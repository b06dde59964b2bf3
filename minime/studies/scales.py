"""Run sizes per scale: one environment variable, read once, one helper for chapters.

``MINIME_SCALE`` selects how big every experiment in the book is:

* ``ci``   -- what CI and nbmake run: each chapter in about a minute on 2 CPU cores;
* ``book`` -- the default, used to build the published book on a CPU (a few minutes a chapter);
* ``full`` -- a GPU or Colab: larger worlds and longer training.

Chapters never branch on the scale; they ask for their sizes once::

    from minime import studies
    S = studies.sizes("ch01")
    S.num_rows, S.epochs

and may change one size for one run: ``studies.sizes("ch01", num_rows=50_000)``.
"""

from __future__ import annotations

import os
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["PRESETS", "SCALE", "SCALES", "Sizes", "sizes"]

SCALES = ("ci", "book", "full")


def _read_scale() -> str:
    value = os.environ.get("MINIME_SCALE", "book").strip().lower() or "book"
    if value not in SCALES:
        raise ValueError(
            f"MINIME_SCALE={value!r} is not a scale; use one of {', '.join(SCALES)}"
        )
    return value


#: The scale of this process, read once at import from ``MINIME_SCALE``.
SCALE: str = _read_scale()


class Sizes(Mapping):
    """Read-only sizes of one experiment at one scale; keys are also attributes.

    Example:
        >>> s = Sizes("demo", "ci", {"num_rows": 1000})
        >>> s.num_rows
        1000
    """

    def __init__(self, name: str, scale: str, values: Mapping[str, Any]):
        self._name, self._scale = name, scale
        self._values = MappingProxyType(dict(values))

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(
                f"sizes({self._name!r}) at scale {self._scale!r} has no {key!r}; "
                f"it has {', '.join(sorted(self._values))}"
            ) from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Sizes[{self._name}@{self._scale}]({body})"


# Chapter 5's world, split, model sizes and recipe (chapter 6 runs the same world in STEM's
# setting). ci: batches of 2048, lr 1e-2, narrower experts; book / full: batches of 1024, lr 5e-3,
# experts MLP(64, 64). A large test share: the conflict users' task-2 AUC rests on few positives.
# ``epochs`` here and in every chapter is a cap: early stopping on validation AUC ends the runs
# well before it (each chapter asserts that no run reached it).
_MTL = {
    "ci": dict(world="multitask", num_rows=400_000, theta_deg=0.0, split=(0.5, 0.1, 0.4),
               expert_units=(32, 32), tower_units=(16,), batch_size=2048, lr=1e-2, epochs=30),
    "book": dict(world="multitask", num_rows=500_000, theta_deg=0.0, split=(0.5, 0.1, 0.4),
                 expert_units=(64, 64), tower_units=(32,), batch_size=1024, lr=5e-3, epochs=30),
    "full": dict(world="multitask", num_rows=2_000_000, theta_deg=0.0, split=(0.5, 0.1, 0.4),
                 expert_units=(64, 64), tower_units=(32,), batch_size=1024, lr=5e-3, epochs=50),
}
_CH06_MODELS = ("MMoE", "PLE", "ME-MMoE", "STEM", "STEM, no stop-gradient")
_CH07_FULL = dict(world="multicvr", num_rows=2_000_000, split=(0.5, 0.2, 0.3), expert_units=(64, 64),
                  tower_units=(32,), batch_size=2048, lr=5e-3, epochs=50, seeds=(0, 1, 2),
                  models=("MMoE", "STEM", "AME", "AME, constant gates"), dims=(16, 32, 64),
                  triples=((16, 32, 64), (4, 16, 64), (8, 16, 32), (32, 32, 32)),
                  al_rows=1_000_000, al_models=("MMoE", "STEM", "STEM-AL"), scenario_rows=1_000_000,
                  widget_rows=300_000)

_CH08_CI = ("TIM", "DIN attention", "no similarity", "MNSE age")
_CH08_BOOK = (*_CH08_CI, "mean pooling", "no history", "id + HashID")
_CH04_WORLDS = ("ctr_pair_specific", "ctr")  # room for multi-embedding; rank 4 planted

# name -> {scale -> sizes}. Every chapter's sizes live here, so one file shows what each scale
# costs. Keys shared by all scales of an entry must be the same (checked by the tests).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # 1. The ad world and a single-embedding CTR model
    "ch01": {
        "ci": dict(world="ctr", num_rows=200_000, epochs=30, batch_size=2048, embedding_dim=16),
        "book": dict(world="ctr", num_rows=600_000, epochs=30, batch_size=2048, embedding_dim=16),
        "full": dict(world="ctr_large", num_rows=3_000_000, epochs=50, batch_size=4096,
                     embedding_dim=16),
    },
    # 2. Measuring collapse (the larger world: 5,000 users, 20,000 ads, many rare ids)
    "ch02": {
        "ci": dict(world="ctr_large", num_rows=200_000, epochs=30, embedding_dim=16),
        "book": dict(world="ctr_large", num_rows=800_000, epochs=30, embedding_dim=16),
        "full": dict(world="ctr_large", num_rows=4_000_000, epochs=50, embedding_dim=16),
    },
    # 3. Why embeddings collapse
    "ch03": {
        "ci": dict(world="ctr", num_rows=160_000, epochs=30, dims=(8, 24), toy_rows=150_000),
        "book": dict(world="ctr", num_rows=300_000, epochs=30, dims=(8, 16, 32), toy_rows=300_000),
        "full": dict(world="ctr", num_rows=2_000_000, epochs=50, dims=(8, 16, 32, 64),
                     toy_rows=1_000_000),
    },
    # 4. Multi-embedding: SE of width s·D against ME of s sets of width D, in Guo et al.'s setting
    # (CTRConfig.preset("paper"), D = 10, TrainConfig.preset("multi_embedding")) on a world with
    # room for ME and on the rank-4 one; the MLP is narrowed below full scale, the learning rate
    # tuned per arm over ``lrs`` (at ci, CI's minute allows one rate and one scale).
    "ch04": {
        "ci": dict(worlds=_CH04_WORLDS, num_rows=40_000, hidden_units=(64, 64), lrs=(3e-3,),
                   scales=(2,), seeds=(0, 1, 2), slider_dims=(10,)),
        "book": dict(worlds=_CH04_WORLDS, num_rows=40_000, hidden_units=(64, 64), lrs=(3e-3,),
                     scales=(1, 2, 4), seeds=(0, 1, 2), slider_dims=(10,)),
        "full": dict(worlds=_CH04_WORLDS, num_rows=2_000_000, hidden_units=(400, 400),
                     lrs=(5e-4, 1e-3, 2e-3, 4e-3), scales=(1, 2, 4, 10), seeds=(0, 1, 2),
                     slider_dims=(5, 10, 20)),
    },
    # 5. Interest entanglement: single-task vs SharedBottom / MMoE / PLE, one seed
    "ch05": {scale: {**_MTL[scale], **extra} for scale, extra in (
        ("ci", dict(seeds=(0,), thetas=(0, 30, 60, 90), widget_rows=60_000)),
        ("book", dict(seeds=(0,), thetas=(0, 15, 30, 45, 60, 75, 90), widget_rows=100_000)),
        ("full", dict(seeds=(0, 1, 2), thetas=(0, 15, 30, 45, 60, 75, 90), widget_rows=300_000)))},
    # 6. STEM against the shared-embedding models, in Su et al.'s setting: MTLConfig.preset("paper")
    # (8 experts of 3 layers, 8 shared + 1 specific for PLE / STEM, gates and towers of 2 layers)
    # with narrower layers below full scale, TrainConfig.preset("stem") with a longer ``patience``
    # (its epochs are far shorter than the paper's), the learning rate tuned per model over
    # ``lrs`` (at ci, CI's minute allows one rate).
    "ch06": {
        "ci": dict(world="multitask", num_rows=100_000, theta_deg=0.0, split=(0.5, 0.1, 0.4),
                   expert_units=(32, 32, 32), gate_units=(32, 16), tower_units=(32, 16),
                   lrs=(3e-3,), patience=3, seeds=(0, 1, 2), models=("MMoE", "STEM"), widget_rows=60_000,
                   slider_thetas=(0, 45, 90)),
        "book": dict(world="multitask", num_rows=100_000, theta_deg=0.0, split=(0.5, 0.1, 0.4),
                     expert_units=(32, 32, 32), gate_units=(32, 16), tower_units=(32, 16),
                     lrs=(3e-3,), patience=3, seeds=(0, 1, 2), models=_CH06_MODELS,
                     widget_rows=60_000, slider_thetas=(0, 45, 90)),
        "full": dict(world="multitask", num_rows=2_000_000, theta_deg=0.0, split=(0.5, 0.1, 0.4),
                     expert_units=(512, 512, 512), gate_units=(128, 64), tower_units=(128, 64),
                     lrs=(1e-4, 5e-4, 1e-3), patience=2, seeds=(0, 1, 2), models=_CH06_MODELS,
                     widget_rows=300_000,
                     slider_thetas=(0, 15, 30, 45, 60, 75, 90)),
    },
    # 7. AME, STEM-AL and scenarios: the multicvr world (one head, a long tail of small tasks)
    "ch07": {
        "ci": dict(world="multicvr", num_rows=160_000, split=(0.5, 0.2, 0.3), expert_units=(32, 32),
                   tower_units=(16,), batch_size=4096, lr=1e-2, epochs=30, seeds=(0, 1, 2),
                   models=("AME", "AME, constant gates"), dims=(16, 32, 64),
                   triples=((16, 32, 64), (4, 16, 64)), al_rows=60_000,
                   al_models=("MMoE", "STEM-AL"), scenario_rows=60_000, widget_rows=80_000),
        "book": {**_CH07_FULL, "num_rows": 200_000, "expert_units": (32, 32), "tower_units": (16,),
                 "batch_size": 4096, "lr": 1e-2, "epochs": 30, "al_rows": 100_000,
                 "scenario_rows": 100_000, "widget_rows": 80_000},
        "full": _CH07_FULL,
    },
    # 8. Encoders with priors on the encoding world (chapter 8's defaults: history_scale 1.5, the
    # age effect a rise). Arms from studies.encoding.ARMS; one learning rate below full scale.
    "ch08": {
        "ci": dict(num_rows=85_000, test_rows=40_000, batch_size=4096, lrs=(1e-2,), patience=2,
                   epochs=50, seeds=(0, 1, 2), arms=_CH08_CI, widget_rows=30_000),
        "book": dict(num_rows=100_000, test_rows=50_000, batch_size=4096, lrs=(1e-2,), patience=2,
                     epochs=50, seeds=(0, 1, 2), arms=_CH08_BOOK, widget_rows=30_000),
        "full": dict(num_rows=1_000_000, test_rows=200_000, batch_size=4096,
                     lrs=(3e-3, 1e-2, 3e-2), patience=3, epochs=50, seeds=(0, 1, 2),
                     arms=(*_CH08_BOOK, "similarity one-hot"), widget_rows=100_000),
    },
}


def sizes(name: str, scale: str | None = None, **overrides) -> Sizes:
    """Sizes of experiment ``name`` at ``scale`` (default: the process's ``SCALE``).

    Args:
        name: a key of ``PRESETS``, usually a chapter such as ``"ch01"``.
        scale: ``"ci"``, ``"book"`` or ``"full"``; None uses ``MINIME_SCALE``.
        **overrides: sizes to change for this run, e.g. ``epochs=3``; each must be a size the
            preset has.

    Returns:
        A read-only :class:`Sizes` whose keys are also attributes.

    Example:
        >>> sizes("ch01", "ci").epochs, sizes("ch01", "ci", epochs=5).epochs
        (30, 5)
    """
    scale = SCALE if scale is None else scale
    if scale not in SCALES:
        raise ValueError(f"scale {scale!r} is not one of {', '.join(SCALES)}")
    if name not in PRESETS:
        raise KeyError(f"no sizes named {name!r}; known: {', '.join(sorted(PRESETS))}")
    values = PRESETS[name][scale]
    unknown = sorted(set(overrides) - set(values))
    if unknown:
        raise KeyError(f"sizes({name!r}) has no {', '.join(map(repr, unknown))} to override; it "
                       f"has {', '.join(sorted(values))}")
    return Sizes(name, scale, {**values, **overrides})
