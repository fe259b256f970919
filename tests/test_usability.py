"""Usability: visible signatures, a summary shown once, and pointed answers to habits from Keras,
PyTorch and scikit-learn."""

from __future__ import annotations

import copy
import inspect
import pickle
import warnings

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import training
from scratchnet.layers import Activation, Dense, Dropout
from scratchnet.optimizers import get_optimizer


def _data(n=24, d=3, k=3):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, d)), np.arange(n) % k


def _no_warnings():
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("error")
    return ctx


# ----------------------------------------------------------------------------------------------
# 3. visible signatures


def test_model_fit_lists_every_keyword_of_training_fit_with_the_same_default():
    ours = inspect.signature(sn.Model.fit).parameters
    theirs = inspect.signature(training.fit).parameters
    keywords = [p for p in theirs.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert len(keywords) >= 12
    for p in keywords:
        assert p.name in ours, f"Model.fit lacks {p.name}="
        assert ours[p.name].kind is inspect.Parameter.KEYWORD_ONLY
        assert ours[p.name].default == p.default, p.name
    doc = sn.Model.fit.__doc__
    for p in keywords:
        assert f"{p.name} :" in doc, f"Model.fit's docstring does not describe {p.name}"
    assert "kwargs" not in str(inspect.signature(sn.Model.fit))


def test_model_fit_passes_its_arguments_through():
    X, y = _data()
    m = sn.Model(hidden=(4,), seed=0)
    hist = m.fit(X, y, epochs=3, batch_size=None, optimizer="sgd", lr=0.05, validation_split=0.25)
    assert len(hist.epoch) == 3 and m.optimizer.name == "sgd" and m.optimizer.lr == 0.05
    assert "val_loss" in hist.history


# ----------------------------------------------------------------------------------------------
# 4. summary


def test_summary_prints_once_and_returns_none(capsys):
    m = sn.Model(hidden=(5,), seed=0).build(3, 2)
    assert m.summary() is None
    out = capsys.readouterr().out
    assert out.count("trainable parameters") == 1 and "dense1 (Dense)" in out
    text = m.summary(print_fn=None)
    assert capsys.readouterr().out == ""
    assert text == out.rstrip("\n")


def test_summary_html_and_the_jupyter_display():
    m = sn.Model(layers=[Dense(5, name="a<b>"), Activation("tanh")], seed=0)
    before = m._repr_html_()
    assert "Not built yet" in before and "<pre>Model(layers=[2 custom]" in before
    m.build(3, 2)
    page = m.summary_html()
    assert page.startswith("<table") and page.endswith("</table>")
    assert "a&lt;b&gt; (Dense)" in page and "<b>" not in page  # names are escaped
    assert f"trainable parameters: {m.count_parameters():,}" in page
    assert "softmax head" in page and "(n, 5)" in page
    assert m._repr_html_() == page
    with pytest.raises(RuntimeError, match="no parameters yet"):
        sn.Model().summary_html()


# ----------------------------------------------------------------------------------------------
# 5. habits from other libraries


def test_softmax_as_an_activation_says_the_model_adds_the_output_layer():
    pattern = (
        r"unknown activation 'softmax': .*output head.*adds the output layer.*output='softmax'"
    )
    with pytest.raises(ValueError, match=pattern):
        Activation("softmax")
    with pytest.raises(ValueError, match=pattern):
        sn.Model(hidden=(4,), activation="softmax")
    with pytest.raises(ValueError, match=r"unknown activation 'log_softmax': .*output head"):
        Activation("log_softmax")


def test_a_custom_stack_that_ends_like_an_output_layer_is_pointed_out():
    with pytest.warns(UserWarning, match=r"ends with Dense\(10\).*two linear maps.*output="):
        sn.Model(layers=[Dense(32), Activation("relu"), Dense(10)])
    with pytest.warns(
        UserWarning, match=r"ends with Dense\(1\), Activation\('sigmoid'\).*output='softmax'"
    ):
        sn.Model(layers=[Dense(32), Activation("relu"), Dense(1), Activation("sigmoid")])
    ctx = _no_warnings()
    try:  # an ordinary stack, a sigmoid hidden layer, and a trailing dropout say nothing
        sn.Model(layers=[Dense(32), Activation("relu")])
        sn.Model(layers=[Dense(32), Activation("sigmoid")])
        sn.Model(layers=[Dense(32), Activation("relu"), Dropout(0.1)])
        sn.Model(layers=[Dense(1), Activation("sigmoid")] * 3)  # the notes' width-one chain
    finally:
        ctx.__exit__(None, None, None)


def test_the_stack_advice_is_given_once_not_on_every_copy(tmp_path):
    X, y = _data()
    with pytest.warns(UserWarning, match="ends with Dense"):
        m = sn.Model(layers=[Dense(4), Activation("relu"), Dense(4)], seed=0)
    ctx = _no_warnings()
    try:
        m.fit(X, y, epochs=1)
        m.save(tmp_path / "m.npz")
        sn.load(tmp_path / "m.npz")
        pickle.loads(pickle.dumps(m))
        copy.deepcopy(m)
        m.copy()
    finally:
        ctx.__exit__(None, None, None)


def test_compile_explains_that_there_is_no_compile_step():
    m = sn.Model()
    with pytest.raises(TypeError, match=r"no compile step.*fit\(X, y, optimizer='rmsprop'"):
        m.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    with pytest.raises(TypeError, match=r"loss comes with the output head.*evaluate\(X, y\)"):
        m.compile("adam", "mse")


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (
            {"learning_rate": 0.01},
            r"the learning rate is an argument of fit: model\.fit\(X, y, lr=0",
        ),
        ({"lr": 0.01}, r"argument of fit: model\.fit\(X, y, lr="),
        ({"optimizer": "adam"}, r"optimiser is an argument of fit"),
        ({"input_dim": 4}, r"input width is read from X.*build\(n_features, n_outputs\)"),
        ({"input_shape": (4,)}, r"input width is read from X"),
        ({"num_classes": 10}, r"number of outputs is read from y"),
        ({"units": 64}, r"hidden=.*adds the output layer itself"),
        ({"hidden_layer_sizes": (64,)}, r"hidden=.*scratchnet\.sklearn\.MLPClassifier"),
        ({"loss": "mse"}, r"loss comes with the output head.*'identity' squared error"),
        ({"random_state": 0}, r"seed=: Model\(seed=0\)"),
        ({"alpha": 1e-4}, r"l2=.*AdamW"),
        ({"epochs": 5}, r"argument of fit"),
        ({"hiden": (3,)}, r"hiden=: did you mean hidden=\?.*Model\(\) takes hidden, activation"),
    ],
)
def test_model_answers_other_libraries_keywords(kwargs, pattern):
    start = rf"^Model\(\) got unexpected keyword argument '{next(iter(kwargs))}'; .*"
    with pytest.raises(TypeError, match=start + pattern):
        sn.Model(hidden=(4,), **kwargs)


def test_model_lists_every_unexpected_keyword():
    with pytest.raises(TypeError, match=r"arguments 'learning_rate', 'random_state';.*seed="):
        sn.Model(learning_rate=0.1, random_state=0)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"learning_rate": 0.001}, r"learning_rate=: scratchnet calls it lr: .*lr=0\.001"),
        ({"nb_epoch": 5}, r"scratchnet calls it epochs"),
        ({"max_iter": 5}, r"scratchnet calls it epochs"),
        ({"n_epochs": 5}, r"scratchnet calls it epochs"),
        ({"lr_schedule": None}, r"lr takes a schedule too"),
        ({"loss": "mse"}, r"loss comes with the output head.*Model\(output="),
        ({"metrics": ["accuracy"]}, r"History records loss and accuracy"),
        ({"random_state": 0}, r"seed belongs to the model.*Model\(seed=0\)"),
        ({"epocs": 5}, r"did you mean epochs=\?.*fit\(\) takes epochs, batch_size"),
    ],
)
def test_fit_answers_other_libraries_keywords_before_anything_changes(kwargs, pattern):
    X, y = _data()
    m = sn.Model(hidden=(4,), seed=0)
    start = rf"^fit\(\) got unexpected keyword argument '{next(iter(kwargs))}'; .*"
    with pytest.raises(TypeError, match=start + pattern):
        m.fit(X, y, **kwargs)
    assert not m.built and m.optimizer is None


def test_a_column_of_labels_gets_the_ravel_advice():
    X, y = _data()
    with pytest.raises(ValueError, match=r"shape \(24, 1\) are a column.*y\.ravel\(\)"):
        sn.Model(hidden=(4,)).fit(X, y.reshape(-1, 1), epochs=1)
    with pytest.raises(ValueError, match=r"0 or 1, found \[2\]; .*class indices.*'softmax'"):
        sn.Model(hidden=(4,), output="sigmoid").fit(X, y.reshape(-1, 1), epochs=1)
    sn.Model(hidden=(4,), output="sigmoid").fit(X, (y > 0).reshape(-1, 1), epochs=1)  # fine


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["cat", "dog", "emu"] * 8),
        np.array(["cat", "dog", "emu"] * 8, dtype=object),
        np.array([b"cat", b"dog", b"emu"] * 8),
    ],
    ids=["str", "object", "bytes"],
)
def test_string_labels_point_to_encoding_or_the_sklearn_estimator(labels):
    X, y = _data()
    m = sn.Model(hidden=(4,))
    pattern = (
        r"y must .*num.*text labels \('cat', 'dog', 'emu', \.\.\.\).*"
        r"scratchnet\.data\.encode_labels\(y\).*scratchnet\.sklearn\.MLPClassifier"
    )
    with pytest.raises(TypeError, match=pattern):
        m.fit(X, labels, epochs=1)
    with pytest.raises(TypeError, match=r"y_val holds text labels.*encode_labels\(y_val\)"):
        m.fit(X, y, epochs=1, validation_data=(X, labels))
    assert not m.built


def test_string_targets_of_a_regression_get_their_own_advice():
    X, _ = _data()
    with pytest.raises(TypeError, match=r"holds text.*regression model needs numbers"):
        sn.Model(hidden=(4,), output="identity").fit(X, np.array(["1.5"] * 24), epochs=1)


def test_labels_with_gaps_warn_when_they_size_the_head():
    """Warned when the unseen outputs outnumber the seen ones, or when an output is unseen
    although there are at least 10 samples per output."""
    X, y = _data(n=40, k=10)
    gappy = y * 10  # {0, 10, ..., 90}
    m = sn.Model(hidden=(4,), seed=0)
    pattern = (
        r"y holds 10 distinct labels up to 90: the softmax head gets 91 outputs, 81 of them "
        r"never seen in y \(class 1, 2, 3, 4, 5, \.\.\.\); encode the labels with .*"
        r"scratchnet\.data\.encode_labels\(y\).*scratchnet\.sklearn\.MLPClassifier.*"
        r"model\.build\(3, n_classes\)"
    )
    with pytest.warns(UserWarning, match=pattern) as record:
        m.fit(X, gappy, epochs=1)
    assert record[0].filename == __file__  # the warning points at the caller's line
    assert m.n_outputs == 91
    with pytest.warns(UserWarning, match=r"labels start at 1: pass y - 1"):
        X3, y3 = _data(n=40, k=3)  # labels 1, 2, 3: 10 samples per output, output 0 unseen
        sn.Model(hidden=(4,), seed=0).fit(X3, y3 + 1, epochs=1)
    ctx = _no_warnings()
    try:
        m.fit(X, gappy, epochs=1)  # built: the head is not sized from y any more
        sn.Model(hidden=(4,), seed=0).fit(X, y, epochs=1)  # contiguous labels
        sn.Model(hidden=(4,), seed=0).build(3, 91).fit(X, gappy, epochs=1)  # meant
        few = np.array([0, 2, 4, 6, 9])  # a small sample that lacks some classes
        sn.Model(hidden=(4,), seed=0).loss_and_gradients(X[:5], few)
    finally:
        ctx.__exit__(None, None, None)


def test_an_optimiser_with_its_own_rate_plus_lr_says_which_wins():
    X, y = _data()
    opt = sn.Adam(lr=0.01)
    m = sn.Model(hidden=(4,), seed=0)
    pattern = r"optimizer=Adam\(lr=0\.01\) and lr=0\.001 both set a learning rate; lr=0\.001 wins"
    with pytest.warns(UserWarning, match=pattern) as record:
        hist = m.fit(X, y, epochs=1, optimizer=opt, lr=0.001)
    assert record[0].filename == __file__
    assert m.optimizer is opt and opt.lr == 0.001 and hist.history["lr"] == [0.001]
    ctx = _no_warnings()
    try:  # the same rate again, no lr, or a name with lr: nothing to say
        m.fit(X, y, epochs=1, optimizer=opt, lr=0.001)
        m.fit(X, y, epochs=1, optimizer=sn.SGD(0.1))
        m.fit(X, y, epochs=1, optimizer="sgd", lr=0.5)
    finally:
        ctx.__exit__(None, None, None)
    with pytest.warns(UserWarning, match=r"optimizer=SGD\(lr=0\.1\) and lr=0\.5 .*lr=0\.5 wins"):
        assert get_optimizer(sn.SGD(0.1), 0.5).lr == 0.5
    decay = sn.schedules.StepDecay(0.1)
    with pytest.warns(UserWarning, match=r"optimizer=SGD\(lr=StepDecay\(0\.1.*lr=0\.2 wins"):
        get_optimizer(sn.SGD(decay), 0.2)
