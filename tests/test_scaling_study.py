"""minime.studies.scaling and minime.studies.cache: the SE-vs-ME study and its JSON result cache.

The multi-embedding models are stood in for (``models.build`` and ``models.MEConfig`` are
monkeypatched), so most tests are quick and do not depend on the ME models; one test runs the
real ``me_dcnv2``.
"""

import dataclasses
import functools
import json

import numpy as np
import pytest
import torch
from torch import nn

from minime import analysis, models, studies, train
from minime.data import make_world
from minime.embedding import MultiEmbedding

REAL_BUILD = models.build


@dataclasses.dataclass(frozen=True)
class StandInMEConfig:
    """The contract's MEConfig: ``num_embeddings`` sets, plus an option."""

    num_embeddings: int = 2
    option: str = "a"


class StandInME(nn.Module):
    """M sets of width D, a set-specific Linear each, averaged, then a shared output layer."""

    def __init__(self, field_dims, config, num_tasks, me):
        super().__init__()
        D, F = config.embedding_dim, len(field_dims)
        self.embedding = MultiEmbedding(field_dims, [D] * me.num_embeddings)
        self.towers = nn.ModuleList(nn.Linear(F * D, 8) for _ in range(me.num_embeddings))
        self.head = nn.Linear(8, num_tasks)

    def forward(self, ids):
        sets = self.embedding(ids)  # M × (B, F, D)
        hidden = [torch.relu(t(e.flatten(1))) for t, e in zip(self.towers, sets)]  # M × (B, 8)
        return self.head(torch.stack(hidden).mean(0))  # (M, B, 8) -> (B, 8) -> (B, T)


def _build(name, field_dims, config=None, num_tasks=1, me=None):
    if name.startswith("me_"):
        return StandInME(field_dims, config, num_tasks, me)
    return REAL_BUILD(name, field_dims, config, num_tasks=num_tasks)


@pytest.fixture
def fits(monkeypatch, tmp_path):
    """Stand-in ME models, a temporary cache, and a list recording every call of train.fit."""
    monkeypatch.setenv("MINIME_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(models, "build", _build)
    monkeypatch.setattr(models, "MEConfig", StandInMEConfig, raising=False)
    calls, real_fit = [], train.fit

    def counting_fit(model, *args, **kwargs):
        calls.append(type(model).__name__)
        return real_fit(model, *args, **kwargs)

    monkeypatch.setattr(train, "fit", counting_fit)
    return calls


SPLIT = make_world("tiny", seed=0).split()
STUDY = dict(model="dnn", base_dim=2, scales=(1, 2), seeds=(0,),
             config=models.CTRConfig.preset("small"),
             train_config=train.TrainConfig(epochs=1, progress=False), progress=False)


def _study(split=SPLIT, **changes):
    return studies.scaling_study(split, **{**STUDY, **changes})


def _ia_check(model, split):
    """IA measured again here, to check the study's records."""
    sets = analysis.set_spectra(model, data=split.train)
    return {"ia_check": float(np.mean(analysis.field_spectra(model, data=split.train).ia)),
            "ia_set_check": float(np.mean([r.ia for r in sets]))}


def test_records_have_the_expected_kinds_scales_and_measures(fits):
    runs = _study(measure=_ia_check, group="user_id")
    assert [(r["kind"], r["scale"]) for r in runs] == [("SE", 1), ("ME", 1), ("SE", 2), ("ME", 2)]
    assert fits == ["DNN", "StandInME"] * 2 and runs.cached == 0
    for r in runs:
        per_set = 2 * r["scale"] if r["kind"] == "SE" else 2
        assert (r["embedding_dim"], r["total_dim"]) == (per_set, 2 * r["scale"])
        assert r["num_embeddings"] == (r["scale"] if r["kind"] == "ME" else 1)
        assert r["model"] == ("dnn" if r["kind"] == "SE" else "me_dnn") and r["seed"] == 0
        assert 0 <= r["test_auc"] <= 1 and len(r["test_auc_tasks"]) == SPLIT.train.num_tasks
        assert 0 <= r["test_gauc"] <= 1 and r["best_epoch"] == 1 and r["epochs"] == 1
        assert r["ia"] == pytest.approx(r["ia_check"]) and 1 <= r["ia"] <= r["total_dim"]
        assert r["ia_set"] == pytest.approx(r["ia_set_check"]) and r["ia_set"] <= per_set
        assert list(r["ia_fields"]) == list(SPLIT.train.field_names)  # field order, not a-z
    assert runs.select(kind="ME", scale=2)[0] is runs[3]
    assert set(runs.summary("ia", by=("kind", "scale"))) == {("SE", 1), ("ME", 1), ("SE", 2),
                                                             ("ME", 2)}
    table = runs.table(["test_auc", "ia"], by=("kind", "scale"))
    assert table.header == ["kind", "scale", "test_auc", "ia"] and len(table.rows) == 4


def test_a_rerun_loads_identical_results_without_training(fits, monkeypatch):
    first = _study()

    def refuse(*args, **kwargs):
        raise AssertionError("trained although every result is cached")

    monkeypatch.setattr(train, "fit", refuse)
    second = _study()
    assert second == first and second.cached == 4
    assert json.dumps(second) == json.dumps(first)  # the same records, in the same key order
    assert [list(r["ia_fields"]) for r in second] == [list(SPLIT.train.field_names)] * 4


@pytest.mark.parametrize("change, retrained", [
    (dict(config=models.CTRConfig.preset("small", hidden_units=(8,))), 4),
    (dict(config=models.CTRConfig.preset("small", embedding_init=functools.partial(
        nn.init.normal_, std=0.1))), 4),
    (dict(train_config=train.TrainConfig(epochs=1, lr=2e-3, progress=False)), 4),
    (dict(me_options={"option": "b"}), 2),
    (dict(split=make_world("tiny", seed=0).split(seed=1)), 4),
    (dict(split=make_world("tiny", seed=1).split()), 4),
    (dict(group="user_id"), 4),
    (dict(seeds=(0, 1)), 4),
])
def test_any_change_of_configuration_or_data_retrains(fits, change, retrained):
    _study()
    fits.clear()
    _study(**change)
    assert len(fits) == retrained


def test_the_progress_flag_is_not_part_of_the_key(fits):
    _study()
    fits.clear()
    _study(train_config=train.TrainConfig(epochs=1, progress=True), progress=True)
    assert fits == []


def test_a_new_code_version_retrains(fits, monkeypatch):
    _study()
    fits.clear()
    monkeypatch.setattr(studies.scaling, "code_version", lambda: "another version")
    _study()
    assert len(fits) == 4


def test_partials_and_functions_have_a_stable_description(fits):
    init = functools.partial(nn.init.normal_, std=0.1)
    same = studies.cache.stable(functools.partial(nn.init.normal_, std=0.1))
    assert studies.cache.stable(init) == same != studies.cache.stable(
        functools.partial(nn.init.normal_, std=0.2))
    assert studies.cache.stable(_ia_check).startswith("test_scaling_study._ia_check#")


def test_cache_false_always_trains_and_stores_nothing(fits, tmp_path):
    _study(cache=False)
    _study(cache=False)
    assert len(fits) == 8 and not (tmp_path / "cache").exists()


def test_cache_files_are_plain_json_and_can_be_cleared(fits, tmp_path):
    runs = _study(measure=_ia_check)
    files = sorted((tmp_path / "cache").glob("*.json"))
    assert len(files) == 4 and studies.cache.cache_dir() == tmp_path / "cache"

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (str, int, float, bool))

    stored = [json.loads(f.read_text()) for f in files]
    assert all(plain(s) and set(s) == {"key", "record"} for s in stored)
    assert sorted(json.dumps(s["record"], sort_keys=True) for s in stored) == sorted(
        json.dumps(r, sort_keys=True) for r in runs)
    assert {s["key"]["code"] for s in stored} == {studies.cache.code_version()}
    assert studies.cache.clear_cache() == 4 and not list((tmp_path / "cache").glob("*.json"))


def test_a_corrupt_file_is_retrained_and_replaced(fits, tmp_path):
    _study()
    victim = sorted((tmp_path / "cache").glob("*.json"))[0]
    victim.write_text("{not json")
    fits.clear()
    _study()
    assert len(fits) == 1 and json.loads(victim.read_text())["record"]


def test_bad_measures_and_kinds_are_errors(fits):
    with pytest.raises(ValueError, match="already records"):
        _study(measure=lambda model, split: {"test_auc": 1.0}, cache=False)
    with pytest.raises(TypeError, match="plain numbers"):
        _study(measure=lambda model, split: {"net": model}, cache=False)
    with pytest.raises(ValueError, match="kinds"):
        _study(kinds=("XE",), cache=False)


def test_data_fingerprint_sees_ids_and_labels():
    train_, valid, test = SPLIT
    flipped = train_._like(train_.x, 1 - train_.y, train_.meta)
    fingerprints = {studies.cache.data_fingerprint(s) for s in
                    (SPLIT, (train_, valid, test), (flipped, valid, test), (valid, train_, test))}
    assert len(fingerprints) == 3  # a tuple of the same parts is the same data


def test_the_real_multi_embedding_dcnv2(tmp_path):
    runs = studies.scaling_study(
        SPLIT, model="dcnv2", base_dim=2, scales=(1, 2), seeds=(0,),
        config=models.CTRConfig.preset("small"), cache=tmp_path,
        train_config=train.TrainConfig(epochs=1, progress=False), progress=False)
    (me,) = runs.select(kind="ME", scale=2)
    assert (me["num_embeddings"], me["embedding_dim"], me["total_dim"]) == (2, 2, 4)
    assert 0 <= me["test_auc"] <= 1 and 1 <= me["ia_set"] <= 2
    assert studies.scaling_study(
        SPLIT, model="dcnv2", base_dim=2, scales=(1, 2), seeds=(0,),
        config=models.CTRConfig.preset("small"), cache=tmp_path,
        train_config=train.TrainConfig(epochs=1, progress=False), progress=False).cached == 4


def test_se_model_me_name_is_built_with_one_set(fits):
    runs = _study(se_model="me_dnn", kinds=("SE",), scales=(2,))
    (record,) = runs
    assert fits == ["StandInME"]  # the SE run is an ME model with one set, as asked
    assert record["model"] == "me_dnn" and record["num_embeddings"] == 1
    assert record["embedding_dim"] == record["total_dim"] == 4


def test_each_kind_can_train_its_own_way_and_me_at_one_can_be_skipped(fits):
    fast, slow = (train.TrainConfig(epochs=1, lr=lr, progress=False) for lr in (1e-2, 1e-3))
    _study()
    fits.clear()
    runs = _study(train_config={"SE": slow, "ME": fast}, me_at_one=False)
    assert [(r["kind"], r["scale"]) for r in runs] == [("SE", 1), ("SE", 2), ("ME", 2)]
    assert fits == ["StandInME"]  # SE keeps the default lr (cached); ME at s = 2 has a new one
    with pytest.raises(ValueError, match="needs a TrainConfig for every kind"):
        _study(train_config={"SE": slow})
