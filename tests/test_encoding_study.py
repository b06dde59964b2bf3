"""minime.studies.encoding: arms build the encoders they name, the study records what it says."""

import dataclasses

import numpy as np
import pytest
import torch

from minime import data, encoders, studies, train
from minime.studies import encoding


@pytest.fixture(scope="module")
def worlds():
    world = data.make_encoding_world(6000, seed=0, seq_len=4)
    test = data.make_encoding_world(3000, seed=0, seq_len=4, rows_seed=5, bias=world.bias,
                                    age_sampling="uniform")
    return world, test


def test_encoding_data_adds_the_similarity_bucket(worlds):
    world, _ = worlds
    rows = encoding.encoding_data(world, num_buckets=8)
    u = torch.from_numpy(world.user_pretrained)[world.data.x[:, 0]]
    v = torch.from_numpy(world.item_pretrained)[world.data.x[:, 1]]
    assert rows.field_names[-2:] == ("similarity", "creative") and rows.field_dims[-2] == 8
    assert torch.equal(rows.x[:, -2], encoders.similarity_buckets(u, v, 8))
    assert torch.equal(rows.column("creative"), rows.column("item"))


def test_arms_build_what_they_name(worlds):
    world, _ = worlds
    rows = encoding.encoding_data(world)
    names = rows.field_names
    net = encoding.build_encoded("dnn", rows, world, {"history": "none", "similarity": "none",
                                                      "age": "mnse", "item": "hashid"}, "small")
    out = net.embedding(rows.x[:30])
    silent = [names.index(n) for n in ("seq_0", "seq_3", "seq_len", "similarity", "item")]
    assert bool((out[:, silent] == 0).all()) and bool((out[:, names.index("age")] != 0).any())
    assert isinstance(net.embedding.field_encoders[str(names.index("creative"))].encoder,
                      encoders.Recoded)
    plain = encoding.build_encoded("dnn", rows, world, {}, "small").embedding(rows.x[:30])
    assert bool((plain[:, names.index("creative")] == 0).all())  # the default: the ad id alone
    assert bool((plain[:, names.index("item")] != 0).any())
    with pytest.raises(ValueError, match="arm history='lstm'"):
        encoding.build_encoded("dnn", rows, world, {"history": "lstm"}, "small")


def test_study_records(worlds, tmp_path):
    world, test = worlds
    runs = studies.encoding_study(
        world, test, {"TIM": {"history": "tim"}, "none": {"history": "none"}}, config="small",
        train_config=train.TrainConfig(epochs=2, batch_size=512, progress=False),
        seeds=(0,), cache=str(tmp_path), progress=False, rare_below=50)
    tim, none = runs.select(label="TIM")[0], runs.select(label="none")[0]
    assert 0.3 < tim["auc"] < 1 and tim["rare_rows"] > 0 and 0.3 < tim["auc_rare_age"] < 1
    assert tim["rare_ad_rows"] > 0 and 0.3 < tim["auc_rare_ad"] < 1
    assert -1 <= tim["rho_ctc"] <= 1 and np.array(tim["correlation"]).shape == (10, 10, 4)
    assert "rho_ctc" not in none
    assert np.array(tim["age_rows"]).shape == (world.config.max_age + 1, 4)  # "small": D = 4
    again = studies.encoding_study(
        world, test, {"TIM": {"history": "tim"}}, config="small",
        train_config=train.TrainConfig(epochs=2, batch_size=512, progress=False),
        seeds=(0,), cache=str(tmp_path), progress=False, rare_below=50)
    assert again.cached == 1 and again[0]["auc"] == tim["auc"]


def test_age_rows_are_what_the_net_gives_each_age(worlds):
    world, _ = worlds
    rows = encoding.encoding_data(world)
    age = rows.field_names.index("age")
    for arm in ({"age": "onehot"}, {"age": "mnse"}):
        net = encoding.build_encoded("dnn", rows, world, arm, "small")
        vectors = torch.from_numpy(encoding._age_rows(net, age, world.config.max_age))
        ids = rows.x[:200]
        torch.testing.assert_close(vectors[ids[:, age]], net.embedding(ids)[:, age].detach())


def test_each_arm_may_have_its_own_train_config(worlds, tmp_path):
    world, test = worlds
    fast = train.TrainConfig(epochs=1, batch_size=512, progress=False)
    runs = studies.encoding_study(
        world, test, {"TIM": {}, "mean": {"history": "mean"}}, config="small",
        train_config={"TIM": fast, "mean": dataclasses.replace(fast, lr=1e-2)},
        cache=False, progress=False)
    assert [r["lr"] for r in runs] == [fast.lr, 1e-2]
    assert studies.valid_auc(runs[0]) == runs[0]["history"][0]["valid_auc_mean"]
    with pytest.raises(ValueError, match="needs a TrainConfig for every arm"):
        studies.encoding_study(world, test, {"TIM": {}}, train_config={"DIN": fast},
                               cache=False, progress=False)
