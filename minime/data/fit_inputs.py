"""What :func:`minime.train.fit` checks before training: the model, the rows and the config agree.

Example:
    >>> from minime import data, models, train
    >>> split = data.make_world("tiny", num_rows=500, seed=0).split()
    >>> net = models.build("fm", split.train.field_dims, models.CTRConfig.preset("small"), num_tasks=2)
    >>> check_fit_inputs(net, split.train, split.valid, train.TrainConfig())  # all agree: no error
"""

from __future__ import annotations

from minime.data.batches import TensorData

__all__ = ["check_fit_inputs"]


def check_fit_inputs(model, train: TensorData, valid: TensorData, config) -> None:
    """What :func:`minime.train.fit` checks first: a clear ``TypeError`` / ``ValueError`` where
    the model, the rows and the train config disagree (row types, fields, tasks, task weights)."""
    for name, data in (("train", train), ("valid", valid)):
        if not isinstance(data, TensorData):
            raise TypeError(f"{name} must be a minime.data.TensorData, got {type(data).__name__}")
    if valid.field_dims != train.field_dims or valid.num_tasks != train.num_tasks:
        raise ValueError(f"train and valid differ: fields {train.field_dims} vs {valid.field_dims}"
                         f", tasks {train.num_tasks} vs {valid.num_tasks}")
    expected = getattr(getattr(model, "embedding", None), "field_dims", None)
    if expected is not None and tuple(expected) != train.field_dims:
        raise ValueError(f"the model's embedding has field_dims {tuple(expected)} but the data has "
                         f"{train.field_dims}")
    num_tasks = getattr(model, "num_tasks", train.num_tasks)
    if num_tasks != train.num_tasks:
        raise ValueError(f"the model predicts {num_tasks} task(s) but the data has "
                         f"{train.num_tasks} label column(s) ({', '.join(train.task_names)})")
    if config.task_weights is not None and len(config.task_weights) != train.num_tasks:
        raise ValueError(f"task_weights has {len(config.task_weights)} entries for "
                         f"{train.num_tasks} tasks")
