"""The main job: train an MLP with dropout on MNIST and report its test accuracy.

Data: MNIST from ``--data``, ``$SCRATCHNET_MNIST``, ``$SCRATCHNET_DATA/mnist`` or the user cache
(downloaded there when a network is available); without any of them, scikit-learn's 8x8 digits,
which ship with scikit-learn, so the job runs on a machine with no network.

Writes ``out/<data>_model.npz`` (the trained model), ``out/<data>_learning_curves.png`` and
``out/<data>_confusion.png``, where ``<data>`` names the set used: ``mnist``, or ``digits`` when the
run fell back to them (a line of its own says so).

    python examples/train_mnist.py                       # full run (about 20 epochs)
    python examples/train_mnist.py --backend torch       # same code on PyTorch tensors
    python examples/train_mnist.py --quick               # a few seconds
"""

from __future__ import annotations

import sys

from _common import Timer, load_image_data, parse, parser

import scratchnet as sn


def main(argv=None) -> float:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="folder with the four MNIST IDX files")
    p.add_argument("--dataset", default="auto", choices=sn.datasets.REAL_DATASETS)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--offline", action="store_true", help="never try to download")
    args = parse(p, argv)

    X_train, y_train, X_test, y_test, info = load_image_data(args, args.dataset, path=args.data)
    epochs = args.epochs
    if args.quick:
        X_train, y_train, epochs = X_train[:2000], y_train[:2000], 2
    print(f"data: {info}")
    print(f"train {X_train.shape}, test {X_test.shape}, backend {args.backend}")

    model = sn.Model(
        hidden=(512, 256), activation="relu", output="softmax", dropout=0.2,
        backend=args.backend, device=args.device, dtype="float32", seed=args.seed,
    )  # fmt: skip
    stop = sn.EarlyStopping(patience=5, monitor="val_loss")
    with Timer() as t:
        history = model.fit(
            X_train, y_train, epochs=epochs, batch_size=128, optimizer="adam",
            lr=sn.schedules.CosineDecay(1e-3, epochs=epochs, min_lr=1e-5),
            validation_split=0.1, callbacks=[stop], verbose=1,
        )  # fmt: skip
    scores = model.evaluate(X_test, y_test)
    print(f"test accuracy {scores['accuracy']:.4f}, test loss {scores['loss']:.4f}")
    print(
        f"{len(history.epoch)} epochs in {t.seconds:.1f} s ({t.seconds / len(history.epoch):.2f} s/epoch)"
    )

    names = [
        f"{info.name}_{what}" for what in ("model.npz", "learning_curves.png", "confusion.png")
    ]
    model.save(args.out / names[0])
    history.plot(path=args.out / names[1], title=f"{info.name}: learning curves")
    predictions = sn.to_numpy(model.predict(X_test))
    sn.plots.plot_confusion_matrix(y_test, predictions, normalize="true", path=args.out / names[2])
    print(f"saved {', '.join(str(args.out / name) for name in names)}")
    return scores["accuracy"]


if __name__ == "__main__":
    main()
    sys.exit(0)
