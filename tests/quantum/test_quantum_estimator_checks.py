"""scikit-learn's estimator checks on the quantum predictors (small options)."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from qnrecovery.quantum.predictors import QuantumKernelPredictor, VariationalPredictor

ESTIMATORS = [
    QuantumKernelPredictor(n_qubits=4, reps=1, random_state=0),
    VariationalPredictor(n_qubits=2, maxiter=60, random_state=0),
]


def _expected_failed(estimator: object) -> dict[str, str]:
    return {
        "check_class_weight_classifiers": (
            "Platt calibration is fitted on the decision values without the class "
            "weights, so an extreme class_weight on the model does not carry "
            "through to the calibrated predictions this check inspects."
        )
    }


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed)
def test_sklearn_contract(estimator, check):
    check(estimator)
