"""Side-by-side benchmarks of scratchnet against scikit-learn and PyTorch.

Run ``python -m benchmarks.run --help`` (or ``python benchmarks/run.py --help``) from the repository
root; see ``benchmarks/README.md`` for what is measured and how.

Modules
-------
data        MNIST (IDX files) or a synthetic set of the same shape
flops       epoch FLOP counts, the matrix-product peak and the floor it implies
threads     thread limits (threadpoolctl, torch) and a description of the BLAS in use
numpy_mlp   a hand-written NumPy MLP loop, run on raw NumPy and through array-api-compat
frameworks  one runner per framework: scratchnet, scikit-learn, PyTorch, the NumPy loops
memory      peak-RSS measurement of one training run in a fresh subprocess
suite       the configurations, the alternating timing loop, ratios and targets
report      JSON and Markdown output
run         the command-line entry point
small_data  the scikit-learn estimators on small real and synthetic sets
sklearn_parity  accuracy against scikit-learn's MLPClassifier on real sets
backends_speed  one epoch per backend, each in a fresh process
out_of_core allocation peaks of fit and predict on a float64 memory map
gpu_launches    kernel launches per training step on CuPy and PyTorch CUDA
"""
