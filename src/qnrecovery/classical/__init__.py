"""Classical baselines for every backend kind.

* :mod:`qnrecovery.classical.predictors` — logistic regression, gradient
  boosting and a calibrated RBF SVC (scikit-learn estimators), and
  :func:`~qnrecovery.classical.predictors.make_failure_features`.
* :mod:`qnrecovery.classical.detectors` — rolling z-score and IsolationForest.
* :mod:`qnrecovery.classical.paths` — Dijkstra and exhaustive route search.
* :mod:`qnrecovery.classical.placement` — greedy and exact MILP placement.

The submodules are imported only when used, so importing this package loads
no scikit-learn or SciPy.
"""
