"""minime.train: fit learns, selects the best epoch, records its optimiser, is reproducible,
and refuses inputs it cannot train on with a clear error."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch

from minime import data, models, train

FAST = train.TrainConfig(epochs=3, batch_size=256, lr=5e-3, progress=False)


@pytest.fixture(scope="module")
def split():
    return data.make_world("tiny", num_rows=4000, seed=0).split()


def fitted(split, name="fm", config=FAST, seed=0, **cfg):
    train.set_seed(seed)
    model = models.build(name, split.train.field_dims, models.CTRConfig.preset("small", **cfg),
                         num_tasks=split.train.num_tasks)
    return model, train.fit(model, split.train, split.valid, config)


def test_fit_learns_and_keeps_the_best_epoch(split):
    model, history = fitted(split)
    aucs = history.series("valid_auc_mean")
    assert history.best_epoch == int(np.argmax(aucs)) + 1
    assert history.best_valid_auc == max(aucs) > 0.6
    assert history.epochs[-1]["train_loss"] < history.epochs[0]["train_loss"]
    # the model holds the best epoch's weights
    assert np.isclose(train.evaluate(model, split.valid)["auc_mean"], history.best_valid_auc)
    assert history.optimizer.startswith("Adam(") and history.config["epochs"] == 3


def test_same_seed_same_metrics_on_cpu(split):
    _, a = fitted(split, "dcnv2")
    _, b = fitted(split, "dcnv2")
    assert a.series("valid_auc_mean") == b.series("valid_auc_mean")
    assert a.series("train_loss") == b.series("train_loss")


def test_early_stopping_stops_after_patience(split):
    config = dataclasses.replace(FAST, epochs=30, patience=1, lr=5e-2)
    _, history = fitted(split, config=config)
    best = history.best_epoch
    assert history.stopped_early and len(history.epochs) == best + 1


def test_sparse_adam_is_recorded_and_mismatches_refused(split):
    config = dataclasses.replace(FAST, optimizer="sparse_adam", epochs=1)
    model, history = fitted(split, config=config, sparse_embedding=True)
    assert history.optimizer.startswith("SparseAdam(")
    with pytest.raises(ValueError, match="Adam cannot update"):
        train.fit(model, split.train, split.valid, FAST)
    dense = models.build("fm", split.train.field_dims, "small", num_tasks=split.train.num_tasks)
    with pytest.raises(ValueError, match="needs sparse embedding tables"):
        train.fit(dense, split.train, split.valid, config)


def test_callbacks_see_each_epoch_and_can_add_entries(split):
    seen = []

    def record_norm(model, record):
        seen.append(record["epoch"])
        record["table_norm"] = float(model.embedding.table.weight.detach().norm())

    model = models.build("dnn", split.train.field_dims, "small", num_tasks=split.train.num_tasks)
    history = train.fit(model, split.train, split.valid, FAST, callbacks=[record_norm])
    assert seen == [r["epoch"] for r in history.epochs] == list(range(1, len(seen) + 1))
    assert all(r["table_norm"] > 0 for r in history.epochs)


def test_evaluate_matches_metrics_and_gauc(split):
    model, _ = fitted(split)
    result = train.evaluate(model, split.test, group=split.test.field_names[0])
    logits = models.predict(model, split.test)
    from minime import metrics
    assert result["auc"][1] == metrics.auc(split.test.y[:, 1], logits[:, 1])
    assert 0.5 < result["gauc"][0] <= 1.0


def test_mismatches_are_clear_errors(split):
    tasks = split.train.num_tasks
    model = models.build("fm", split.train.field_dims, "small", num_tasks=tasks + 1)
    with pytest.raises(ValueError, match=f"predicts {tasks + 1} task"):
        train.fit(model, split.train, split.valid, FAST)
    other = models.build("fm", (3, 4), "small")
    with pytest.raises(ValueError, match="field_dims"):
        train.fit(other, split.train, split.valid, FAST)
    with pytest.raises(TypeError, match="TensorData"):
        train.fit(model, (split.train.x, split.train.y), split.valid, FAST)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        train.TrainConfig(optimizer="sgd")
    with pytest.raises(ValueError, match="task_weights"):
        fitted(split, config=dataclasses.replace(FAST, task_weights=(1.0,) * (tasks + 1)))


def test_predict_keeps_row_order_and_mode(split):
    model, _ = fitted(split)
    model.train()
    logits = models.predict(model, split.valid, batch_size=97)
    assert model.training and logits.shape == (len(split.valid), split.valid.num_tasks)
    with torch.no_grad():
        model.eval()
        assert torch.allclose(logits, model(split.valid.x), atol=1e-6)


def test_a_run_that_ends_at_its_best_epoch_warns_and_a_plateau_stops(split):
    config = dataclasses.replace(FAST, epochs=2, patience=5, lr=1e-2)
    with pytest.warns(train.StillImprovingWarning, match="best validation AUC is at the last epoch"):
        _, history = fitted(split, config=config)
    assert history.still_improving and history.best_epoch == len(history.epochs) == 2
    frozen = dataclasses.replace(FAST, epochs=5, patience=2, lr=1e-12)  # nothing moves: a plateau
    with warnings.catch_warnings():
        warnings.simplefilter("error", train.StillImprovingWarning)
        _, flat = fitted(split, config=frozen)
    assert flat.stopped_early and not flat.still_improving and len(flat.epochs) == 3


def test_bf16_precision_runs_the_forward_in_bfloat16_and_learns_as_fp32(split):
    seen = []
    def hook(module, args, output):
        seen.append(output.dtype)

    bf16 = dataclasses.replace(FAST, precision="bf16")
    train.set_seed(0)
    model = models.build("dcnv2", split.train.field_dims, models.CTRConfig.preset("small"),
                         num_tasks=split.train.num_tasks)
    linear = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    handle = linear.register_forward_hook(hook)
    history = train.fit(model, split.train, split.valid, bf16)
    handle.remove()
    _, reference = fitted(split, "dcnv2")
    # training forwards ran in bfloat16, evaluation forwards in float32
    assert set(seen) == {torch.bfloat16, torch.float32}, set(seen)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay float32
    assert abs(history.best_valid_auc - reference.best_valid_auc) < 0.01, \
        (history.best_valid_auc, reference.best_valid_auc)
    assert history.config["precision"] == "bf16"
    with pytest.raises(ValueError, match="precision must be one of"):
        train.TrainConfig(precision="fp16")
