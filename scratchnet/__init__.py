"""scratchnet: multilayer perceptrons with hand-derived backpropagation on any Array API library.

>>> import scratchnet as sn
>>> m = sn.Model(hidden=(64, 32), activation="relu", output="softmax", seed=0)
>>> m.build(n_features=784, n_outputs=10).count_parameters()
52650

Importing scratchnet imports no optional array library: CuPy, PyTorch and JAX load only when a
backend that needs them is asked for.
"""

from . import (
    activations,
    augment,
    callbacks,
    data,
    datasets,
    distributed,
    initializers,
    layers,
    optimizers,
    plots,
    schedules,
    testing,
)
from .backends import available_backends, get_backend, to_device, to_numpy
from .callbacks import Callback, History, LayerStats, ModelCheckpoint, ProgressBar
from .guards import TrainingDivergedWarning
from .model import Model, load
from .optimizers import SGD, AdaGrad, Adam, AdamW, RMSProp
from .regularization import EarlyStopping
from .version import __version__

__all__ = [
    "SGD",
    "AdaGrad",
    "Adam",
    "AdamW",
    "Callback",
    "EarlyStopping",
    "History",
    "LayerStats",
    "Model",
    "ModelCheckpoint",
    "ProgressBar",
    "RMSProp",
    "TrainingDivergedWarning",
    "__version__",
    "activations",
    "augment",
    "available_backends",
    "callbacks",
    "data",
    "datasets",
    "distributed",
    "get_backend",
    "initializers",
    "layers",
    "load",
    "optimizers",
    "plots",
    "schedules",
    "testing",
    "to_device",
    "to_numpy",
]
