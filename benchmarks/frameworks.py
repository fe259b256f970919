"""One runner per framework, all training the same network from the same initial weights.

Each runner is built outside the timed region (model construction, moving data to the device) and
then exposes one epoch of training (`Runner.train_epoch`), a way to wait for queued device work
(`Runner.synchronize`) and prediction (`Runner.prepare` once, then `Runner.predict`). The harness
in `benchmarks.suite` does the timing, so every framework is timed by the same code.

Frameworks
----------
scratchnet    ``Model(...).fit(X, y, epochs=1, ...)`` per epoch; the optimiser's state carries over
sklearn       ``MLPClassifier.partial_fit`` per epoch (one shuffled pass, Adam state kept)
torch         eager ``nn.Sequential`` + ``CrossEntropyLoss`` + ``torch.optim.Adam`` loop
numpy-direct  the hand-written loop of `benchmarks.numpy_mlp` on raw NumPy
numpy-compat  the same loop through ``array_api_compat.numpy``
"""

from __future__ import annotations

import gc
import warnings
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any, ClassVar

import numpy as np

from .data import Dataset
from .threads import set_torch_threads

Params = list[tuple[np.ndarray, np.ndarray]]
FRAMEWORK_NAMES = (
    "scratchnet", "scratchnet-unfused", "sklearn", "torch", "numpy-direct", "numpy-compat",
)  # fmt: skip
#: ``--frameworks`` shorthands
ALIASES = {"numpy": ("numpy-direct", "numpy-compat"), "pytorch": ("torch",)}
CPU_ONLY = ("sklearn", "numpy-direct", "numpy-compat", "scratchnet-unfused")


@dataclass(frozen=True)
class TrainSpec:
    """What every framework trains: the same architecture, optimiser, batch and dtype.

    Attributes
    ----------
    hidden : tuple of int
        Hidden widths (ReLU after each); the output layer is softmax over the classes.
    batch_size : int
    lr : float
        Adam learning rate (beta1 0.9, beta2 0.999, eps 1e-8 everywhere).
    dtype : {"float32", "float64"}
    backend : str
        scratchnet's backend ("numpy", "torch", "cupy", "jax").
    device : {"cpu", "cuda"}
        Device of scratchnet (for GPU backends) and of PyTorch.
    threads : int or None
        CPU threads for BLAS/OpenMP and PyTorch; None keeps library defaults.
    seed : int
        Seeds the initial weights and every framework's shuffles.
    """

    hidden: tuple[int, ...] = (256, 128)
    batch_size: int = 128
    lr: float = 1e-3
    dtype: str = "float32"
    backend: str = "numpy"
    device: str = "cpu"
    threads: int | None = 2
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly fields."""
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainSpec:
        """Inverse of `to_dict`."""
        return cls(**{**d, "hidden": tuple(d["hidden"])})


def init_parameters(sizes: list[int], seed: int, dtype: str = "float32") -> Params:
    """Initial (B, c) per layer, shared by all frameworks.

    He-uniform weights, U(-sqrt(6/fan_in), sqrt(6/fan_in)), before each ReLU; Glorot-uniform,
    U(-sqrt(6/(fan_in+fan_out)), ...), for the output layer; zero biases. B has shape
    (fan_in, fan_out) (PyTorch receives B^T).
    """
    rng = np.random.default_rng(seed)
    params = []
    last = len(sizes) - 2
    for l, (fan_in, fan_out) in enumerate(pairwise(sizes)):
        bound = np.sqrt(6.0 / fan_in) if l < last else np.sqrt(6.0 / (fan_in + fan_out))
        B = rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(dtype)
        params.append((B, np.zeros(fan_out, dtype=dtype)))
    return params


def expand_frameworks(text: str) -> list[str]:
    """Parse ``"scratchnet,sklearn,torch,numpy"`` into runner names (aliases expanded, in order)."""
    names: list[str] = []
    for raw in text.split(","):
        key = raw.strip().lower()
        if not key:
            continue
        for name in ALIASES.get(key, (key,)):
            if name not in FRAMEWORK_NAMES:
                valid = ", ".join([*FRAMEWORK_NAMES, *ALIASES])
                raise ValueError(f"unknown framework {raw!r}; choose from {valid}")
            if name not in names:
                names.append(name)
    if not names:
        raise ValueError("--frameworks names no framework")
    return names


def import_torch() -> Any:
    """``import torch``, or an ImportError that says how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            f"PyTorch is not installed ({exc}); pip install torch (CPU or CUDA build) to compare "
            "against it, or leave it out with --frameworks"
        ) from exc
    return torch


def unavailable_reason(name: str, spec: TrainSpec) -> str | None:
    """Why framework ``name`` cannot run for ``spec`` here, or None when it can."""
    if name in CPU_ONLY and spec.device != "cpu":
        return f"{name} runs on the CPU only; skipped with --device {spec.device}"
    if name == "scratchnet":
        try:
            import scratchnet as sn

            sn.get_backend(spec.backend, _scratchnet_device(spec))
        except (ImportError, RuntimeError, ValueError) as exc:
            return f"scratchnet backend {spec.backend!r} on {spec.device}: {exc}"
    elif name == "scratchnet-unfused":
        import scratchnet as sn

        if spec.backend != "numpy":
            return "the unfused (ufunc) comparison is for the NumPy backend"
        if sn.get_backend("numpy").kernels.name != "numba":
            return "scratchnet runs its ufunc kernels already (Numba is not installed or is off)"
    elif name == "torch":
        try:
            torch = import_torch()
        except ImportError as exc:
            return str(exc)
        if spec.device == "cuda" and not torch.cuda.is_available():
            return "PyTorch finds no usable CUDA device (torch.cuda.is_available() is False)"
    elif name == "sklearn":
        try:
            import sklearn  # noqa: F401
        except ImportError as exc:
            return f"scikit-learn is not installed ({exc}); pip install scikit-learn"
    elif name == "numpy-compat":
        try:
            import array_api_compat  # noqa: F401
        except ImportError as exc:
            return f"array-api-compat is not installed ({exc})"
    return None


def _scratchnet_device(spec: TrainSpec) -> Any:
    """The ``device`` argument for scratchnet: None for NumPy, else ``"cpu"``/``"cuda"``."""
    return None if spec.backend == "numpy" else spec.device


class Runner(ABC):
    """Trains one framework's copy of the network; timing is done by the caller.

    Parameters
    ----------
    spec : TrainSpec
    data : Dataset
    init : list of (B, c)
        Initial parameters from `init_parameters`.
    """

    name: ClassVar[str] = ""

    def __init__(self, spec: TrainSpec, data: Dataset, init: Params) -> None:
        self.spec = spec
        self.n_classes = data.n_classes

    @property
    def label(self) -> str:
        """Name shown in tables."""
        return self.name

    @abstractmethod
    def train_epoch(self) -> None:
        """One shuffled pass over the training set (may return before a GPU finishes)."""

    def synchronize(self) -> None:
        """Wait for queued device work (a no-op on the CPU)."""

    @abstractmethod
    def prepare(self, X: np.ndarray) -> Any:
        """``X`` as this framework's input for `predict` (on its device; not timed)."""

    @abstractmethod
    def predict(self, X: Any) -> Any:
        """Predicted class indices for prepared ``X`` (may stay on the device)."""

    def to_labels(self, out: Any) -> np.ndarray:
        """`predict` output as a host int array."""
        return np.asarray(out)

    def device_memory(self) -> dict[str, float] | None:
        """Device-memory figures in MiB for GPU runs (None on the CPU)."""
        return None

    def reset_device_peak(self) -> None:
        """Start a fresh device-memory high-water mark (GPU runs)."""

    def extra_info(self) -> dict[str, Any]:
        """Framework-specific numbers kept in the JSON (e.g. scratchnet's inner epoch times)."""
        return {}


class ScratchnetRunner(Runner):
    """scratchnet `Model` on the spec's backend; one ``fit(epochs=1)`` call per epoch.

    The first call passes ``optimizer="adam", lr=...``; later calls pass neither, so the model
    keeps its Adam moments and step count, exactly as one ``fit(epochs=k)`` would. Each call's
    own setup (input checks, target encoding) is part of the timed epoch, like scikit-learn's
    ``partial_fit``; `extra_info` keeps the epoch time that ``fit`` measures inside its loop.
    """

    name = "scratchnet"

    def __init__(self, spec: TrainSpec, data: Dataset, init: Params) -> None:
        super().__init__(spec, data, init)
        import scratchnet as sn

        self.sn = sn
        if spec.backend == "torch":
            set_torch_threads(spec.threads)
        self.model = sn.Model(
            hidden=spec.hidden,
            activation="relu",
            output="softmax",
            backend=spec.backend,
            device=_scratchnet_device(spec),
            dtype=spec.dtype,
            seed=spec.seed,
        )
        self.model.build(data.n_features, data.n_classes)
        names = list(self.model.parameters())
        flat = [array for pair in init for array in pair]
        self.model.set_parameters(dict(zip(names, flat, strict=True)))
        self.X = self.prepare(data.X_train)
        self.y = data.y_train
        self.inner_seconds: list[float] = []
        self._started = False

    @property
    def label(self) -> str:
        return f"scratchnet ({self.model.backend.describe()})"

    def train_epoch(self) -> None:
        first = {} if self._started else {"optimizer": "adam", "lr": self.spec.lr}
        history = self.model.fit(
            self.X, self.y, epochs=1, batch_size=self.spec.batch_size, shuffle=True, **first
        )
        self._started = True
        self.inner_seconds.append(float(history.history["seconds"][-1]))

    def synchronize(self) -> None:
        self.model.backend.synchronize()

    def prepare(self, X: np.ndarray) -> Any:
        return self.model.backend.asarray(X, dtype=self.model.dtype)

    def predict(self, X: Any) -> Any:
        return self.model.predict(X)

    def to_labels(self, out: Any) -> np.ndarray:
        return np.asarray(self.sn.to_numpy(out))

    def reset_device_peak(self) -> None:
        if self.spec.device == "cuda" and self.spec.backend == "torch":
            import torch

            torch.cuda.reset_peak_memory_stats()

    def device_memory(self) -> dict[str, float] | None:
        if self.spec.device != "cuda":
            return None
        if self.spec.backend == "torch":
            import torch

            return {"device_peak_mib": torch.cuda.max_memory_allocated() / 2**20}
        if self.spec.backend == "cupy":
            import cupy

            pool = cupy.get_default_memory_pool()
            # the pool keeps what it once allocated, so its total is the high-water mark
            return {"device_pool_mib": pool.total_bytes() / 2**20}
        return None

    def extra_info(self) -> dict[str, Any]:
        return {"inner_epoch_seconds": list(self.inner_seconds)}


class SklearnRunner(Runner):
    """scikit-learn `MLPClassifier` (solver="adam", alpha=0), one ``partial_fit`` per epoch.

    ``partial_fit`` makes one shuffled pass and keeps the Adam state between calls. (The
    alternative, ``fit`` with ``warm_start=True, max_iter=1``, builds a fresh Adam optimiser at
    every call, which would restart its moments and bias correction each epoch.) To start from the
    shared initial weights, one ``partial_fit`` on the first batch sets up the estimator, then
    ``coefs_``/``intercepts_`` are overwritten and the optimiser is discarded so that the first
    timed epoch starts with fresh Adam state.
    """

    name = "sklearn"

    def __init__(self, spec: TrainSpec, data: Dataset, init: Params) -> None:
        super().__init__(spec, data, init)
        from sklearn.neural_network import MLPClassifier

        self.clf = MLPClassifier(
            hidden_layer_sizes=spec.hidden,
            activation="relu",
            solver="adam",
            alpha=0.0,
            batch_size=spec.batch_size,
            learning_rate_init=spec.lr,
            beta_1=0.9,
            beta_2=0.999,
            epsilon=1e-8,
            shuffle=True,
            random_state=np.random.RandomState(spec.seed),
            early_stopping=False,
            tol=0.0,
            n_iter_no_change=2**31 - 1,
        )
        self.X, self.y = data.X_train, data.y_train
        rows = slice(0, min(spec.batch_size, self.X.shape[0]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.clf.partial_fit(self.X[rows], self.y[rows], classes=np.arange(data.n_classes))
        self.clf.coefs_ = [np.array(B, copy=True) for B, _ in init]
        self.clf.intercepts_ = [np.array(c, copy=True) for _, c in init]
        if hasattr(self.clf, "_optimizer"):
            del self.clf._optimizer  # the next partial_fit creates a fresh Adam
        self.clf.t_ = 0
        self.clf.n_iter_ = 0
        self.clf.loss_curve_ = []

    @property
    def label(self) -> str:
        import sklearn

        return f"scikit-learn {sklearn.__version__}"

    def train_epoch(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.clf.partial_fit(self.X, self.y)

    def prepare(self, X: np.ndarray) -> Any:
        return X

    def predict(self, X: Any) -> Any:
        return self.clf.predict(X)


class TorchRunner(Runner):
    """PyTorch eager: ``nn.Sequential`` of ``nn.Linear``/``nn.ReLU``, ``CrossEntropyLoss``,
    ``torch.optim.Adam`` with its default implementation choice (foreach on CUDA), no compile.

    The data lives in one tensor on the device; each epoch draws ``torch.randperm`` and gathers
    batches with ``index_select`` (faster than a ``DataLoader``, so the comparison is against
    PyTorch's quick path). The loss is accumulated on the device and never read per step.
    """

    name = "torch"

    def __init__(self, spec: TrainSpec, data: Dataset, init: Params) -> None:
        super().__init__(spec, data, init)
        torch = import_torch()
        self.torch = torch
        set_torch_threads(spec.threads)
        self.device = torch.device(spec.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("PyTorch finds no usable CUDA device; use --device cpu")
        dtype = getattr(torch, spec.dtype)
        nn = torch.nn
        layers: list[Any] = []
        last = len(init) - 1
        for l, (B, c) in enumerate(init):
            linear = nn.Linear(B.shape[0], B.shape[1])
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(B.T)))
                linear.bias.copy_(torch.from_numpy(c))
            layers.append(linear)
            if l < last:
                layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers).to(device=self.device, dtype=dtype)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=spec.lr, betas=(0.9, 0.999), eps=1e-8
        )
        self.loss_fn = nn.CrossEntropyLoss()
        self.X = self.prepare(data.X_train)
        self.y = torch.from_numpy(data.y_train).to(self.device)
        self.generator = torch.Generator().manual_seed(spec.seed)
        self.last_loss: Any = None

    @property
    def label(self) -> str:
        return f"PyTorch {self.torch.__version__} eager ({self.device.type})"

    def train_epoch(self) -> None:
        torch = self.torch
        n, bs = self.X.shape[0], self.spec.batch_size
        order = torch.randperm(n, generator=self.generator).to(self.device)
        self.model.train()
        total = torch.zeros((), device=self.device, dtype=self.X.dtype)
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            xb = self.X.index_select(0, idx)
            yb = self.y.index_select(0, idx)
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.model(xb), yb)
            loss.backward()
            self.optimizer.step()
            total += loss.detach() * xb.shape[0]
        self.last_loss = total

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)

    def prepare(self, X: np.ndarray) -> Any:
        return self.torch.from_numpy(X).to(self.device)

    def predict(self, X: Any) -> Any:
        self.model.eval()
        with self.torch.inference_mode():
            return self.model(X).argmax(dim=1)

    def to_labels(self, out: Any) -> np.ndarray:
        return out.cpu().numpy()

    def reset_device_peak(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.reset_peak_memory_stats(self.device)

    def device_memory(self) -> dict[str, float] | None:
        if self.device.type != "cuda":
            return None
        return {"device_peak_mib": self.torch.cuda.max_memory_allocated(self.device) / 2**20}


class NumpyDirectRunner(Runner):
    """The hand-written loop of `benchmarks.numpy_mlp` on raw NumPy (no library at all)."""

    name = "numpy-direct"
    namespace = "direct"

    def __init__(self, spec: TrainSpec, data: Dataset, init: Params) -> None:
        super().__init__(spec, data, init)
        from .numpy_mlp import NumpyMLP

        self.net = NumpyMLP(
            init, data.n_classes, spec.batch_size, spec.lr, spec.seed, self.namespace
        )
        self.X = data.X_train
        self.Y = self.net.one_hot(data.y_train)

    @property
    def label(self) -> str:
        return f"hand-written NumPy loop ({self.namespace})"

    def train_epoch(self) -> None:
        self.net.train_epoch(self.X, self.Y)

    def prepare(self, X: np.ndarray) -> Any:
        return X

    def predict(self, X: Any) -> Any:
        return self.net.predict(X)


class NumpyCompatRunner(NumpyDirectRunner):
    """The same loop with ``xp`` from ``array_api_compat.array_namespace``."""

    name = "numpy-compat"
    namespace = "compat"


class UnfusedScratchnetRunner(ScratchnetRunner):
    """scratchnet on NumPy with the ufunc kernels instead of the fused Numba loops (optimiser
    update, bias add, bias gradient, ReLU both ways; what ``SCRATCHNET_NUMBA=0`` gives), to show
    what fusing buys in the same run. Moving the model hands the layers these kernels too."""

    name = "scratchnet-unfused"

    def __init__(self, spec: TrainSpec, data: Dataset, init: Params) -> None:
        from scratchnet.backends.inplace import UfuncKernels
        from scratchnet.backends.numpy_backend import NumpyBackend

        super().__init__(spec, data, init)
        backend = NumpyBackend()  # a private instance: the cached one keeps its fused kernels
        backend.kernels = UfuncKernels(backend.xp, np)
        self.model.to(backend)

    @property
    def label(self) -> str:
        return "scratchnet (numpy on cpu, ufunc kernels)"


RUNNERS: dict[str, type[Runner]] = {
    cls.name: cls
    for cls in (
        ScratchnetRunner, UnfusedScratchnetRunner, SklearnRunner, TorchRunner, NumpyDirectRunner,
        NumpyCompatRunner,
    )
}  # fmt: skip


def make_runner(name: str, spec: TrainSpec, data: Dataset, init: Params) -> Runner:
    """Build the runner for framework ``name`` (see `FRAMEWORK_NAMES`)."""
    if name not in RUNNERS:
        raise ValueError(f"unknown framework {name!r}; choose from {', '.join(RUNNERS)}")
    gc.collect()
    return RUNNERS[name](spec, data, init)


def import_framework(name: str, spec: TrainSpec) -> None:
    """Import the libraries that framework ``name`` needs (for memory baselines)."""
    if name == "scratchnet":
        import scratchnet as sn

        sn.get_backend(spec.backend, _scratchnet_device(spec))
        if spec.backend == "torch":
            set_torch_threads(spec.threads)
    elif name == "torch":
        import_torch()
        set_torch_threads(spec.threads)
    elif name == "sklearn":
        import sklearn.neural_network  # noqa: F401
    elif name == "numpy-compat":
        import array_api_compat.numpy  # noqa: F401
