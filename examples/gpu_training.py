"""Move a model to the GPU with one argument, train there, and bring it back.

    python examples/gpu_training.py                      # backend auto: CuPy where a GPU works
    python examples/gpu_training.py --backend torch --device cuda

With ``--backend auto`` or ``cupy`` and no usable GPU it says so and trains on NumPy instead;
``--backend torch --device cuda`` needs a CUDA build of PyTorch and a GPU (without them it says
why on one line and exits with status 2).
"""

from __future__ import annotations

import numpy as np
from _common import Timer, parse, parser, require_backend

import scratchnet as sn


def main(argv=None) -> float:
    p = parser(__doc__.splitlines()[0])
    p.set_defaults(backend="auto")
    args = parse(p, argv, check_backend=False)  # this example falls back from CuPy to NumPy
    status = sn.available_backends()
    if args.backend == "cupy" and not status["cupy"].available:
        print(f"no CuPy GPU here ({status['cupy'].reason}); using numpy")
        args.backend, args.device = "numpy", None
    require_backend(args.backend, args.device)
    backend = sn.get_backend(args.backend, args.device)
    print(f"training on {backend.describe()}")

    X_train, y_train, X_test, y_test = sn.datasets.load_digits(seed=args.seed)
    model = sn.Model(
        hidden=(256, 128), activation="relu", batch_norm=True, backend=backend, seed=args.seed
    )
    X_dev = sn.to_device(X_train, backend)  # optional: fit() moves NumPy data once by itself
    with Timer() as t:
        model.fit(X_dev, y_train, epochs=2 if args.quick else 30, batch_size=128, lr=2e-3)
        backend.synchronize()
    accuracy = model.evaluate(X_test, y_test)["accuracy"]
    print(f"test accuracy {accuracy:.4f} in {t.seconds:.1f} s on {backend.describe()}")

    model.to("numpy")  # parameters, batch-norm statistics and optimiser state come home
    host_accuracy = float(np.mean(sn.to_numpy(model.predict(X_test)) == y_test))
    print(f"after model.to('numpy'): test accuracy {host_accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
