"""Writes test/models/fixtures/gbdt-sklearn.json: scikit-learn's HistGradientBoostingClassifier on seeded data, the
reference that test/models/gbdt.test.ts checks src/models/gbdt.ts against. Run with Debian's python3-sklearn:
    /usr/bin/python3 scripts/gbdt-sklearn-fixture.py
"""
import json, pathlib
import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier

rng = np.random.default_rng(5)
n, n_test = 400, 100
def make(m):
    X = np.column_stack([
        rng.integers(0, 40, m),                 # few distinct values: midpoint bins
        rng.normal(0, 1, m),                    # > 255 distinct values: percentile bins
        rng.integers(0, 2, m),                  # binary
        np.round(rng.exponential(100, m), 1),   # heavy tail
        rng.uniform(-5, 5, m),
        np.zeros(m),                            # constant: never split
    ]).astype(np.float64)
    logit = 0.15 * X[:, 0] - 3 + 1.5 * X[:, 1] * (X[:, 2] - 0.5) + 0.01 * X[:, 3] + np.sin(X[:, 4])
    y = (rng.uniform(0, 1, m) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return X, y
X, y = make(n)
Xt, _ = make(n_test)
w = rng.uniform(0.2, 3, n)
cases = []
for params in [
    dict(max_iter=20, learning_rate=0.1, max_leaf_nodes=8, min_samples_leaf=5, l2_regularization=1.0),
    dict(max_iter=10, learning_rate=0.3, max_leaf_nodes=31, min_samples_leaf=20, l2_regularization=0.0),
    dict(max_iter=15, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=10, l2_regularization=0.5, max_depth=3, max_bins=32),
]:
    for weighted in (False, True):
        m = HistGradientBoostingClassifier(early_stopping=False, random_state=0, **params)
        m.fit(X, y, sample_weight=w if weighted else None)
        cases.append(dict(params=params, weighted=weighted,
                          train_decision=m.decision_function(X).tolist(),
                          test_decision=m.decision_function(Xt).tolist(),
                          ))
out = dict(sklearn=sklearn.__version__, X=X.tolist(), y=y.tolist(), w=w.tolist(), X_test=Xt.tolist(), cases=cases)
path = pathlib.Path(__file__).resolve().parent.parent / "test" / "models" / "fixtures" / "gbdt-sklearn.json"
path.write_text(json.dumps(out))
print(f"wrote {path}")
