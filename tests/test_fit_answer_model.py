"""The answer model's fit (scripts/fit_answer_model.py): the signed decision regression on
synthetic data (no pipeline, no models)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from rag.answer.extractive import DECISION_FEATURES

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "fit_answer_model.py"


@pytest.fixture(scope="module")
def fit():
    spec = importlib.util.spec_from_file_location("fit_answer_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _data(rng: np.random.Generator, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    X = rng.random((n, len(DECISION_FEATURES)))
    dense, lexical = DECISION_FEATURES.index("dense"), DECISION_FEATURES.index("lexical")
    # Answerable follows meaning match; the question's words go against it (as on the dev near-misses).
    z = 4 * X[:, dense] - 3 * X[:, lexical] - 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    return X, y


def test_the_signed_decision_model_keeps_each_weight_on_its_side(fit):
    X, y = _data(np.random.default_rng(0))
    w, _ = fit._signed_logistic(X, y, C=10.0)
    for name, weight in zip(DECISION_FEATURES, w):
        if name in fit.RAISES:
            assert weight >= 0.0, name
        if name in fit.LOWERS:
            assert weight <= 0.0, name
    assert w[DECISION_FEATURES.index("lexical")] == pytest.approx(0.0, abs=1e-6)  # bound, not negative
    assert w[DECISION_FEATURES.index("dense")] > 1.0


def test_without_binding_bounds_it_is_scikit_learns_l2_logistic_regression(fit):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    X, y = _data(rng)
    X[:, DECISION_FEATURES.index("lexical")] = rng.random(len(y))  # no longer against: no bound binds
    free = [i for i, f in enumerate(DECISION_FEATURES) if f not in fit.RAISES | fit.LOWERS]
    X[:, [i for i in range(X.shape[1]) if i not in free and DECISION_FEATURES[i] != "dense"]] = 0.0
    w, b = fit._signed_logistic(X, y, C=1.0)
    ref = LogisticRegression(C=1.0, max_iter=5000).fit(X, y)
    # (L-BFGS-B stops within a few thousandths of the optimum on this flat a loss)
    assert np.allclose(w, ref.coef_[0], rtol=1e-2, atol=5e-3) and b == pytest.approx(ref.intercept_[0], abs=1e-2)
