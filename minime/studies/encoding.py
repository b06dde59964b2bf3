"""The encoding study of chapter 8: each feature with and without its prior, on the encoding world.

An *arm* says how each feature reaches the model (:data:`CHOICES`): the history pooled by TIM,
DIN-style attention, a mean, or not at all; the age by its own row (one-hot) or MNSE; the
pre-trained vectors as a similarity bucket by MNSE, by its own row, or not at all; the ad by its
id, by its visual HashID through MNSE, or by both. :func:`encoding_study` trains every arm once per seed
(the same model otherwise) and measures the test AUC, the AUC on rows of rare and of common ages
in a second draw of the world with every age equally likely, and, for attention arms, how the
learned correlation map matches the CTC map of the training rows (Spearman's ρ over
category × position cells, averaged over target categories).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from minime import analysis, encoders, metrics, models, train
from minime.data import EncodingWorld, Split, TensorData
from minime.studies.cache import code_version, data_fingerprint, stable
from minime.studies.common import per_arm, resolve_device, run_all, seeded, train_key
from minime.studies.results import Results

__all__ = ["ARMS", "CHOICES", "DEFAULT_ARM", "build_encoded", "ctc_maps", "encoding_data",
           "encoding_study"]

#: How each feature may reach the model; the first choice of each is the plain one.
CHOICES = {"history": ("none", "mean", "din", "tim"), "age": ("onehot", "mnse"),
           "similarity": ("none", "onehot", "mnse"), "item": ("onehot", "hashid", "id+hashid")}
DEFAULT_ARM = {"history": "tim", "age": "onehot", "similarity": "mnse", "item": "onehot"}
#: Chapter 8's arms: :data:`DEFAULT_ARM` ("TIM"), then one feature changed at a time.
ARMS = {"TIM": {}, "DIN attention": {"history": "din"}, "mean pooling": {"history": "mean"},
        "no history": {"history": "none"}, "no similarity": {"similarity": "none"},
        "similarity one-hot": {"similarity": "onehot"}, "MNSE age": {"age": "mnse"},
        "id + HashID": {"item": "id+hashid"}}


def encoding_data(world: EncodingWorld, *, num_buckets: int = 32) -> TensorData:
    """The world's rows plus two columns: ``similarity``, the bucketised cosine of the row's
    pre-trained user and ad vectors (:func:`minime.encoders.similarity_buckets`), and
    ``creative``, the ad's id again (a field the arms encode by the ad's visual HashID)."""
    d = world.data
    user = torch.from_numpy(world.user_pretrained)[d.x[:, 0]]
    item = torch.from_numpy(world.item_pretrained)[d.x[:, 1]]
    column = encoders.similarity_buckets(user, item, num_buckets).to(d.x.device)
    return TensorData(torch.cat([d.x, column[:, None], d.x[:, 1:2]], 1), d.y,
                      (*d.field_dims, num_buckets, d.field_dims[1]),
                      field_names=(*d.field_names, "similarity", "creative"),
                      task_names=d.task_names, meta=d.meta, name=d.name)


def build_encoded(name: str, data: TensorData, world: EncodingWorld, arm: Mapping[str, str],
                  config=None, *, hashid_bits: int = 12, bases=(2, 3)) -> torch.nn.Module:
    """``models.build(name, ...)`` with each feature encoded as ``arm`` says (see :data:`CHOICES`).

    MNSE writes each value in ``bases`` (the paper's example: 2 and 3) and sums the bases' rows
    (the paper's formula), with rows of the table's width; the HashID, ``hashid_bits`` bits, in
    base 2 (each bit a digit: base 3 would mix independent bits).
    """
    arm = {**DEFAULT_ARM, **arm}
    for key, value in arm.items():
        if key not in CHOICES or value not in CHOICES[key]:
            raise ValueError(f"arm {key}={value!r}: choose from {CHOICES.get(key, tuple(CHOICES))}")
    net = models.build(name, data.field_dims, config)
    emb, names, width = net.embedding, data.field_names, sum(net.embedding.dims)

    def mnse(max_value, bases=bases):
        return encoders.MNSE(max_value, width, bases=bases, combine="sum")

    slots, length = _history_fields(names)
    if arm["history"] == "none":
        for i in (*slots, length):
            encoders.silence_field(emb, i)
    else:
        encoders.encode_sequence(emb, encoders.TargetAttention(
            world.config.num_categories + 1, width, len(slots), kind=arm["history"]),
            target=names.index("category"), slots=slots, length=length)
    if arm["age"] == "mnse":
        encoders.encode_field(emb, names.index("age"), mnse(data.field_dims[names.index("age")] - 1))
    similarity = names.index("similarity")
    if arm["similarity"] == "none":
        encoders.silence_field(emb, similarity)
    elif arm["similarity"] == "mnse":
        encoders.encode_field(emb, similarity, mnse(data.field_dims[similarity] - 1))
    creative = names.index("creative")  # "hashid": in place of the ad id; "id+hashid": beside it
    if arm["item"] == "onehot":
        encoders.silence_field(emb, creative)
    else:
        lsh = encoders.HashID(world.config.visual_dim, num_bits=hashid_bits, seed=0)
        codes = lsh(torch.from_numpy(world.item_visual).float())
        encoders.encode_field(emb, creative, encoders.Recoded(codes, mnse(lsh.max_value, (2,))))
        if arm["item"] == "hashid":
            encoders.silence_field(emb, names.index("item"))
    return net


def _history_fields(names: Sequence[str]) -> tuple[list[int], int]:
    """The history's slot fields ``seq_0 .. seq_{L−1}`` and its length field ``seq_len``."""
    return [i for i, n in enumerate(names) if n.startswith("seq_") and n != "seq_len"], \
        list(names).index("seq_len")


def ctc_maps(data: TensorData, num_categories: int) -> np.ndarray:
    """``(C, C, L)`` CTC maps of ``data``: one ``(behaviour category, position)`` map per target."""
    slots, length = _history_fields(data.field_names)
    seq, lengths = data.x[:, slots].cpu(), data.x[:, length].cpu()
    target = data.column("category").cpu()
    return np.stack([analysis.ctc_map(seq, lengths, data.y[:, 0].cpu(), target, target_category=c,
                                      categories=range(num_categories), max_position=len(slots))
                     for c in range(num_categories)])


def encoding_study(world: EncodingWorld, test_world: EncodingWorld, arms: Mapping[str, dict], *,
                   model: str = "dnn", config=None,
                   train_config: train.TrainConfig | Mapping[str, train.TrainConfig] | None = None,
                   seeds: Sequence[int] = (0,), split_fractions=(0.8, 0.1, 0.1),
                   rare_below: int = 100, num_buckets: int = 32, cache: bool | str = True,
                   progress: bool = True, device: torch.device | str | None = None) -> Results:
    """Train ``model`` once per (seed, arm) on ``world`` and measure what each prior buys.

    Args:
        world: the training world (:func:`minime.data.make_encoding_world`).
        test_world: new rows of the same world (``rows_seed``, ``bias=world.bias``), typically
            with ``age_sampling="uniform"``: its ages rare in training (fewer than
            ``rare_below`` training rows) give ``auc_rare_age``, the others ``auc_common_age``;
            its rows of ads with fewer than ``rare_below`` training rows ``auc_rare_ad``.
        arms: label -> arm, e.g. ``{"TIM": {"history": "tim"}, "DIN": {"history": "din"}}``
            (unspecified features as :data:`DEFAULT_ARM`).
        model, config: the model (``models.build`` name and config).
        train_config: one :class:`~minime.train.TrainConfig` for every arm, or one per arm (a
            dict by label, e.g. each arm's learning rate from :func:`~minime.studies.tune`).
        seeds, cache, progress, device: as the other studies.
        split_fractions, num_buckets: the world's split and the similarity buckets.

    Returns:
        :class:`Results`, one record per (seed, arm): label, arm, seed, seconds, epochs,
        best_epoch, history, lr, auc (test split), auc_rare_age, auc_common_age, rare_rows, auc_rare_ad,
        rare_ad_rows, ``age_rows`` (the learned ``(max_age + 1, D)`` vector of every age: its
        table row, or its MNSE sum), and for attention
        arms ``rho_ctc`` (mean over target categories of Spearman's ρ between the learned map and
        the CTC map of the training rows) and ``correlation`` (the ``(C, C, L)`` learned maps).
    """
    dev = resolve_device(device)
    rows = encoding_data(world, num_buckets=num_buckets)
    split: Split = rows.split(split_fractions, seed=0)
    test = encoding_data(test_world, num_buckets=num_buckets)
    C = world.config.num_categories
    ctc = ctc_maps(split.train, C)
    counts = torch.bincount(split.train.column("age").cpu(), minlength=world.config.max_age + 1)
    rare = counts[test.column("age").cpu()] < rare_below
    ads = torch.bincount(split.train.column("item").cpu(), minlength=world.config.num_items)
    rare_ad = (ads[test.column("item").cpu()] < rare_below).numpy()
    shared = {"study": "encoding", "model": model, "config": stable(models.resolve_config(config)),
              "device": dev.type, "data": data_fingerprint(split),
              "test": data_fingerprint((test,)), "rare_below": rare_below, "code": code_version()}
    configs = per_arm(train_config, arms)
    runs = [(seed, label, {**DEFAULT_ARM, **arm}) for seed in seeds for label, arm in arms.items()]

    def key(run) -> dict:
        seed, label, arm = run
        return {**shared, "label": label, "arm": stable(arm), "seed": seed,
                "train": train_key(seeded(configs[label], seed))}

    def compute(run) -> dict:
        seed, label, arm = run
        trainer = seeded(configs[label], seed)
        train.set_seed(seed)
        net = build_encoded(model, rows, world, arm, config)
        history = train.fit(net, split.train, split.valid, trainer, device=dev)
        net.eval()
        s, y, r = models.predict(net, test)[:, 0].numpy(), test.y[:, 0].cpu().numpy(), rare.numpy()
        record = {"label": label, "arm": arm, "seed": seed, "seconds": history.seconds,
                  "epochs": len(history.epochs), "best_epoch": history.best_epoch,
                  "history": history.epochs, "lr": trainer.lr,
                  "auc": train.evaluate(net, split.test)["auc_mean"],
                  "auc_rare_age": metrics.auc(y[r], s[r]), "auc_common_age": metrics.auc(y[~r], s[~r]),
                  "rare_rows": int(rare.sum()), "auc_rare_ad": metrics.auc(y[rare_ad], s[rare_ad]),
                  "rare_ad_rows": int(rare_ad.sum())}
        record["age_rows"] = _age_rows(net, rows.field_names.index("age"),
                                       world.config.max_age).tolist()
        if arm["history"] in ("tim", "din"):
            attention = net.embedding.field_encoders[str(rows.field_names.index("seq_len"))]
            positions = range(1, ctc.shape[2] + 1)
            maps = np.stack([attention.attention.correlation_map(c, range(C), positions).cpu().numpy()
                             for c in range(C)])
            record["rho_ctc"] = float(np.mean([analysis.spearman(m.ravel(), t.ravel())
                                               for m, t in zip(maps, ctc)]))
            record["correlation"] = maps.tolist()
        return record

    return run_all(runs, key, compute, cache=cache, progress=progress, desc="encoding study")


def _age_rows(net: torch.nn.Module, field: int, max_age: int) -> np.ndarray:
    """The vector a trained net gives every age ``0 .. max_age``: MNSE's output or its table row."""
    emb = net.embedding
    with torch.no_grad():
        if str(field) in emb.field_encoders:
            column = emb.field_encoders[str(field)]
            ages = torch.arange(max_age + 1, device=emb.table.weight.device)
            return column.encoder(ages).cpu().numpy()
        return emb.field_rows(field).detach().cpu().numpy()
