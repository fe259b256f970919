"""Vanishing gradients by depth: an 8-layer sigmoid network against tanh, ReLU and batch norm.

Section 1 of the notes writes the gradient reaching layer j of a deep chain as a product over the
layers above it, a * prod_l u'(z(l)) * prod_l B(l): every sigmoid layer contributes a factor
u' <= 1/4, so the gradient shrinks geometrically towards the input. Section 6's initialisers
(Xavier for tanh, whose u'(0) = 1; He for ReLU, whose u' = 1 where a unit is active) keep the
factors near 1, and batch normalisation re-centres each layer's Z where sigmoid is steepest.

This script trains four such networks on scikit-learn's handwritten digits with
`scratchnet.callbacks.LayerStats`, draws ||dL/dB(l)|| against the depth l = 1..8 of the hidden
layers (first epoch, log scale) and prints the first and last hidden layers' gradient norms.

    python examples/vanishing_gradients.py [--width 32] [--epochs 5] [--quick]
"""

from __future__ import annotations

import numpy as np
from _common import Timer, parse, parser

import scratchnet as sn
from scratchnet.plots import plot_layer_stats

DEPTH = 8
#: label -> Model arguments
SETUPS = {
    "sigmoid, Xavier": {"activation": "sigmoid", "init": "xavier_normal"},
    "tanh, Xavier": {"activation": "tanh", "init": "xavier_normal"},
    "ReLU, He": {"activation": "relu", "init": "he_normal"},
    "sigmoid + batch norm": {"activation": "sigmoid", "init": "xavier_normal", "batch_norm": True},
}


def main(argv=None) -> dict[str, list[float]]:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=32, help="units per hidden layer")
    p.add_argument("--epochs", type=int, default=5)
    args = parse(p, argv)
    X_train, y_train, X_test, y_test = sn.datasets.load_digits(test_size=0.25, seed=args.seed)
    epochs = 1 if args.quick else args.epochs
    if args.quick:
        X_train, y_train = X_train[:256], y_train[:256]

    by_depth: dict[str, list[float]] = {}
    histories = {}
    print(f"{'network':<22} {'||dL/dB(1)||':>13} {'||dL/dB(8)||':>13} {'ratio':>9} {'test acc':>9}")
    with Timer() as t:
        for label, setup in SETUPS.items():
            model = sn.Model(hidden=(args.width,) * DEPTH, backend=args.backend,
                             device=args.device, seed=args.seed, **setup)  # fmt: skip
            history = model.fit(X_train, y_train, epochs=epochs, batch_size=64, optimizer="sgd",
                                lr=0.1, callbacks=[sn.callbacks.LayerStats()])  # fmt: skip
            norms = [history.layers[f"dense{j}"]["grad_norm"][0] for j in range(1, DEPTH + 1)]
            by_depth[label], histories[label] = norms, history
            accuracy = model.evaluate(X_test, y_test)["accuracy"]
            print(f"{label:<22} {norms[0]:>13.3e} {norms[-1]:>13.3e} "
                  f"{norms[0] / norms[-1]:>9.2e} {accuracy:>9.3f}")  # fmt: skip
    print(f"ratio = first / last hidden layer, first epoch; {epochs} epoch(s), {t.seconds:.1f} s")

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    depth = np.arange(1, DEPTH + 1)
    for label, norms in by_depth.items():
        ax.plot(depth, norms, marker="o", label=label)
    ax.set_yscale("log")
    ax.set_xlabel("hidden layer depth l (1 = next to the input)")
    ax.set_ylabel("||dL/dB(l)||, mean over the first epoch")
    ax.set_title(f"gradient norm by depth, {DEPTH} hidden layers of {args.width} (digits)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "vanishing_gradients.png", dpi=120)
    plt.close(fig)
    plot_layer_stats(histories["sigmoid, Xavier"], path=args.out / "layer_stats_sigmoid.png",
                     title="sigmoid, Xavier: statistics per layer and epoch")  # fmt: skip
    print(
        f"figures: {args.out / 'vanishing_gradients.png'}, {args.out / 'layer_stats_sigmoid.png'}"
    )
    return by_depth


if __name__ == "__main__":
    main()
