"""Quantum failure predictors: a fidelity-kernel SVC and a variational classifier.

Both follow the scikit-learn classifier contract (binary labels) and share
one classical pipeline around the circuit (:mod:`qnrecovery.quantum._pipeline`):

1. validate the rows (finite, two classes);
2. draw at most ``max_train_samples`` training rows, class-stratified and
   seeded, keeping every failure while they fit in half the budget;
3. standardise, reduce to ``n_qubits`` columns (PCA or selection) and scale
   each into the angle range ``[0, bandwidth * pi]`` of the feature map;
4. fit the quantum model, with class weights (``"balanced"`` by default);
5. calibrate probabilities with Platt's sigmoid, then undo the class-balance
   change of step 2, so ``predict_proba`` follows the training failure rate.

Column 1 of ``predict_proba`` is the probability of ``classes_[1]`` (for 0/1
labels: that the component fails within the horizon).

``target`` chooses where circuits run (:mod:`qnrecovery.quantum.targets`):
``statevector`` (exact, default), ``aer`` (shots) or ``fake:<device>`` (Aer
with a fake IBM device's noise).

Examples
--------
>>> import numpy as np
>>> from qnrecovery.quantum.predictors import QuantumKernelPredictor
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(120, 5))
>>> y = (X[:, 0] > 0.8).astype(int)
>>> model = QuantumKernelPredictor(n_qubits=4, random_state=0).fit(X, y)
>>> model.predict_proba(X[:3]).shape
(3, 2)
"""

from __future__ import annotations

import logging
import math
import numbers
import time
from collections.abc import Callable
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from qnrecovery.classical.predictors import ProbabilityClassifierMixin
from qnrecovery.exceptions import ConfigError, DataError
from qnrecovery.quantum._pipeline import (
    REDUCTIONS,
    AngleEncoder,
    PriorShift,
    fit_platt,
    stratified_subsample,
)
from qnrecovery.quantum.circuits import (
    FEATURE_MAPS,
    ansatz_circuit,
    feature_map_circuit,
)
from qnrecovery.quantum.kernel import (
    NATIVE_ENTANGLEMENTS,
    CircuitMap,
    PauliZMap,
    fidelity_gram,
)
from qnrecovery.quantum.targets import (
    DEFAULT_MEMORY_LIMIT_BYTES,
    QuantumTarget,
    check_statevector_memory,
    parse_target,
)

__all__ = ["ENGINES", "KERNELS", "QuantumKernelPredictor", "VariationalPredictor"]

logger = logging.getLogger(__name__)

#: Kernel computations of :class:`QuantumKernelPredictor`.
KERNELS = ("auto", "exact", "qiskit-statevector", "sampler", "rbf")
#: Simulation engines of :class:`VariationalPredictor`.
ENGINES = ("auto", "native", "qiskit")


def _check_int(owner: str, name: str, value: Any, minimum: int = 1) -> None:
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < minimum
    ):
        raise ConfigError(
            f"`{name}` of `{owner}` must be an integer >= {minimum}; got {value!r}."
        )


def _check_positive(owner: str, name: str, value: Any) -> None:
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not math.isfinite(float(value))
        or value <= 0
    ):
        raise ConfigError(
            f"`{name}` of `{owner}` must be a positive number; got {value!r}."
        )


def _check_choice(owner: str, name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(
            f"`{name}` of `{owner}` must be one of {', '.join(map(repr, allowed))}; "
            f"got {value!r}."
        )


def _class_weights(class_weight: Any, y: np.ndarray, owner: str) -> np.ndarray:
    """Weights of classes 0 and 1 (``y`` holds 0/1) from a class_weight option."""
    if class_weight is None:
        return np.ones(2)
    counts = np.bincount(y, minlength=2).astype(float)
    if class_weight == "balanced":
        return np.asarray(len(y) / (2.0 * np.maximum(counts, 1.0)))
    if isinstance(class_weight, dict):
        return np.array([float(class_weight.get(k, 1.0)) for k in (0, 1)])
    raise ConfigError(
        f"`class_weight` of `{owner}` must be 'balanced', a dict or None; "
        f"got {class_weight!r}."
    )


class _QuantumPredictor(ProbabilityClassifierMixin, ClassifierMixin, BaseEstimator):
    """Shared pipeline: validation, subsample, angles, calibration.

    Subclasses implement :meth:`_fit_model` (returning the decision values of
    the training rows used for calibration) and :meth:`_decision`.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    n_features_in_ : int
    n_qubits_ : int
        Qubits the circuits use (at most ``n_qubits``).
    encoder_ : AngleEncoder
    target_ : QuantumTarget
    train_rows_ : int
        Training rows the quantum model saw, after subsampling.
    calibration_ : Platt
    prior_shift_ : PriorShift
    fit_time_s_ : float
    """

    # Set by subclasses' __init__.
    n_qubits: int
    reduction: str
    bandwidth: float
    class_weight: Any
    max_train_samples: int | None
    target: str
    shots: int
    memory_limit_bytes: int
    random_state: Any

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.non_deterministic = self.target != "statevector"
        return tags

    # ------------------------------------------------------------ validation

    def _check_common(self) -> None:
        owner = type(self).__name__
        _check_int(owner, "n_qubits", self.n_qubits)
        _check_choice(owner, "reduction", self.reduction, REDUCTIONS)
        _check_positive(owner, "bandwidth", self.bandwidth)
        if self.max_train_samples is not None:
            _check_int(owner, "max_train_samples", self.max_train_samples, 2)
        _check_int(owner, "shots", self.shots)
        _check_int(owner, "memory_limit_bytes", self.memory_limit_bytes)

    def _check_params(self) -> None:
        """Subclass hook: raise ConfigError for a bad hyper-parameter."""

    def _validate(self, X: Any, y: Any = "no_validation", *, reset: bool) -> Any:
        try:
            return validate_data(self, X, y, reset=reset)
        except DataError:
            raise
        except ValueError as err:
            raise DataError(str(err)) from err

    def _labels(self, y: np.ndarray) -> np.ndarray:
        """0/1 codes of `y`; refuses multi-class and single-class targets."""
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind not in ("binary",):
            if kind in ("continuous", "continuous-multioutput"):
                raise DataError(f"Unknown label type: {kind}. Labels must be classes.")
            raise DataError(
                f"Only binary classification is supported. The type of the target "
                f"is {kind}."
            )
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            only = self.classes_[0]
            only = only.item() if isinstance(only, np.generic) else only
            raise DataError(
                f"{type(self).__name__} needs both classes in the training data "
                f"(it cannot learn from one class); got only class {only!r}."
            )
        return np.asarray(codes, dtype=int)

    # ------------------------------------------------------------------- fit

    def fit(self, X: Any, y: Any) -> Self:
        """Fit the feature pipeline, the quantum model and the calibration.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite feature rows.
        y : array-like of shape (n_samples,)
            Binary labels, both classes present.

        Returns
        -------
        self

        Raises
        ------
        DataError
            Non-finite features, a single class, more than two classes, or
            mismatched shapes.
        ConfigError
            A hyper-parameter out of range, or more features than qubits with
            ``reduction="none"``.
        ResourceLimitError
            If the statevectors would exceed ``memory_limit_bytes``.
        """
        started = time.perf_counter()
        self._check_common()
        self._check_params()
        X, y = self._validate(X, y, reset=True)
        codes = self._labels(y)
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        self.target_ = parse_target(self.target, shots=self.shots, seed=seed)

        rows = self._subsample(codes, rng)
        self.encoder_ = AngleEncoder(
            self.n_qubits, self.reduction, self.bandwidth, type(self).__name__
        ).fit(X[rows], codes[rows])
        self.n_qubits_ = self.encoder_.n_components_
        if self._uses_qubits():
            check_statevector_memory(
                self.n_qubits_,
                limit_bytes=self.memory_limit_bytes,
                what=f"{type(self).__name__}'s feature map",
            )
        angles = self.encoder_.transform(X[rows])
        self.train_rows_ = len(rows)

        decision = self._fit_model(angles, codes[rows], rng)
        self.calibration_ = fit_platt(decision, codes[rows])
        self.prior_shift_ = PriorShift.between(codes, codes[rows])
        self.fit_time_s_ = time.perf_counter() - started
        logger.info(
            "%s fitted on %d of %d rows, %d qubits, target %s, in %.2f s.",
            type(self).__name__,
            len(rows),
            len(codes),
            self.n_qubits_,
            self.target_.name,
            self.fit_time_s_,
        )
        return self

    def _uses_qubits(self) -> bool:
        return True

    def _subsample(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.max_train_samples is None or len(codes) <= self.max_train_samples:
            return np.arange(len(codes))
        rows = stratified_subsample(codes, self.max_train_samples, rng)
        logger.info(
            "%s trains on a stratified subsample of %d of %d rows "
            "(%d of %d failures kept).",
            type(self).__name__,
            len(rows),
            len(codes),
            int(codes[rows].sum()),
            int(codes.sum()),
        )
        return rows

    def _fit_model(
        self, angles: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        raise NotImplementedError

    def _decision(self, angles: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # --------------------------------------------------------------- predict

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated class probabilities; column ``i`` is ``classes_[i]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, 2)

        Raises
        ------
        DataError
            If `X` is not finite or has another feature count than in ``fit``.
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        decision = self._decision(self.encoder_.transform(X))
        p1 = self.prior_shift_.apply(self.calibration_(decision))
        return np.column_stack([1.0 - p1, p1])


class QuantumKernelPredictor(_QuantumPredictor):
    """SVC on a quantum fidelity kernel (QSVC), with calibrated probabilities.

    The kernel is ``k(x, x') = |<phi(x)|phi(x')>|**2`` for the feature map's
    state ``|phi(x)>``. On the exact ``statevector`` target it is computed by
    :mod:`qnrecovery.quantum.kernel` (all states at once, the Gram matrix as
    one product); ``kernel="qiskit-statevector"`` uses qiskit-machine-learning's
    ``FidelityStatevectorKernel`` instead (same values, much slower), and the
    sampling targets use ``FidelityQuantumKernel`` with the target's sampler.
    ``kernel="rbf"`` swaps the quantum kernel for a Gaussian one on the same
    angles, everything else equal: the ablation that shows what the quantum
    encoding adds.

    Probabilities: Platt's sigmoid fitted on ``cv``-fold out-of-fold decision
    values (the folds reuse the training Gram matrix), then the final SVC is
    fitted on every training row. Predicting needs the kernel between the new
    rows and the support vectors only.

    Parameters
    ----------
    n_qubits : int, default=8
        Largest feature-map width; the features are reduced to it.
    feature_map : {"zz", "z", "pauli"}, default="zz"
        ``zz_feature_map`` (default), ``z_feature_map`` or
        ``pauli_feature_map`` with `paulis` (the last is simulated circuit by
        circuit).
    reps : int, default=2
        Repetitions of the feature map.
    entanglement : str, default="full"
        ``linear``, ``reverse_linear``, ``circular``, ``full`` or
        ``pairwise``; any other Qiskit pattern falls back to circuit
        simulation.
    paulis : tuple of str, default=("Z", "ZZ")
        Pauli strings of the ``pauli`` map.
    reduction : {"pca", "select", "none"}, default="pca"
    bandwidth : float, default=0.1
        Angles span ``[0, bandwidth * pi]``. Wide angles make the fidelity
        of any two distinct rows nearly 0 (the kernel concentrates) and the
        SVC memorises; narrow ones make the kernel smooth and close to a
        classical one. In 3-fold cross-validation on the training half of
        AI4I 2020 the PR-AUC rose steadily as the bandwidth fell from 1.0 to
        0.05 (see ``docs/backends.md``); 0.1 is the default.
    kernel : {"auto", "exact", "qiskit-statevector", "sampler", "rbf"}, \
default="auto"
        ``auto`` is ``exact`` on the statevector target, ``sampler`` otherwise.
    C : float, default=1.0
        SVC regularisation.
    class_weight : "balanced", dict or None, default="balanced"
    cv : int, default=3
        Folds of the probability calibration.
    max_train_samples : int or None, default=1500
        Training rows kept (stratified, seeded); ``None`` keeps all.
    target : str, default="statevector"
    shots : int, default=1024
        Shots per circuit on sampling targets.
    max_circuits_per_job : int, default=300
        Circuits per sampler job of ``FidelityQuantumKernel``.
    memory_limit_bytes : int, default=4 GiB
    ray_block : int or None, default=None
        With the exact kernel, compute every Gram matrix with more than
        ``ray_block`` rows in ``ray_block`` x ``ray_block`` tiles, each a Ray
        task (:func:`qnrecovery.ray_runtime.gram_blocks_on_ray`; needs the
        ``ray`` extra), for training sets one process should not hold alone.
        ``None`` computes every matrix in this process.
    random_state : int, RandomState or None, default=None
        Seeds the subsample, the folds and the sampler.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    n_features_in_ : int
    n_qubits_ : int
    kernel_ : str
        The kernel computation used.
    svc_ : sklearn.svm.SVC
        The final SVC on the precomputed kernel.
    support_angles_ : ndarray
        Angles of the support vectors.
    train_rows_ : int
    fit_time_s_ : float
    """

    def __init__(
        self,
        *,
        n_qubits: int = 8,
        feature_map: str = "zz",
        reps: int = 2,
        entanglement: str = "full",
        paulis: tuple[str, ...] = ("Z", "ZZ"),
        reduction: str = "pca",
        bandwidth: float = 0.1,
        kernel: str = "auto",
        C: float = 1.0,
        class_weight: str | dict[Any, float] | None = "balanced",
        cv: int = 3,
        max_train_samples: int | None = 1500,
        target: str = "statevector",
        shots: int = 1024,
        max_circuits_per_job: int = 300,
        memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
        ray_block: int | None = None,
        random_state: Any = None,
    ) -> None:
        self.n_qubits = n_qubits
        self.feature_map = feature_map
        self.reps = reps
        self.entanglement = entanglement
        self.paulis = paulis
        self.reduction = reduction
        self.bandwidth = bandwidth
        self.ray_block = ray_block
        self.kernel = kernel
        self.C = C
        self.class_weight = class_weight
        self.cv = cv
        self.max_train_samples = max_train_samples
        self.target = target
        self.shots = shots
        self.max_circuits_per_job = max_circuits_per_job
        self.memory_limit_bytes = memory_limit_bytes
        self.random_state = random_state

    def _check_params(self) -> None:
        owner = type(self).__name__
        _check_choice(owner, "feature_map", self.feature_map, FEATURE_MAPS)
        _check_choice(owner, "kernel", self.kernel, KERNELS)
        _check_int(owner, "reps", self.reps)
        _check_int(owner, "cv", self.cv, 2)
        _check_int(owner, "max_circuits_per_job", self.max_circuits_per_job)
        if self.ray_block is not None:
            _check_int(owner, "ray_block", self.ray_block)
        _check_positive(owner, "C", self.C)
        if not isinstance(self.entanglement, str):
            raise ConfigError(
                f"`entanglement` of `{owner}` must be a string such as 'linear'; "
                f"got {self.entanglement!r}."
            )

    def _uses_qubits(self) -> bool:
        return self.kernel != "rbf"

    def _resolve_kernel(self, target: QuantumTarget) -> str:
        if self.kernel != "auto":
            if self.kernel == "exact" and not target.is_exact:
                raise ConfigError(
                    f"kernel='exact' of `{type(self).__name__}` needs the "
                    f"'statevector' target; got target {target.name!r}. Use "
                    "kernel='sampler' or 'auto'."
                )
            return self.kernel
        return "exact" if target.is_exact else "sampler"

    def _circuit(self) -> Any:
        return feature_map_circuit(
            self.feature_map,
            self.n_qubits_,
            reps=self.reps,
            entanglement=self.entanglement,
            paulis=self.paulis,
        )

    def _native_map(self) -> PauliZMap | CircuitMap:
        native = self.feature_map in ("zz", "z") and (
            self.entanglement in NATIVE_ENTANGLEMENTS
        )
        if native:
            return PauliZMap(
                self.n_qubits_,
                reps=self.reps,
                entanglement=self.entanglement,
                pairs=self.feature_map == "zz",
                memory_limit_bytes=self.memory_limit_bytes,
            )
        return CircuitMap(self._circuit(), memory_limit_bytes=self.memory_limit_bytes)

    def _ray_block(self, rows: int) -> int | None:
        """The tile size when a matrix of `rows` rows goes to Ray, else None."""
        if self.ray_block is not None and rows > self.ray_block:
            return int(self.ray_block)
        return None

    def _gram(self, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """Kernel matrix between angle rows `a` and `b` (``None``: `a` itself)."""
        limit = self.memory_limit_bytes
        if self.kernel_ == "exact":
            states_a = self.map_.statevectors(a)
            states_b = None if b is None else self.map_.statevectors(b)
            return fidelity_gram(
                states_a,
                states_b,
                memory_limit_bytes=limit,
                ray_block=self._ray_block(len(states_a)),
            )
        if self.kernel_ == "rbf":
            other = a if b is None else b
            sq = ((a[:, None, :] - other[None, :, :]) ** 2).sum(axis=-1)
            return np.asarray(np.exp(-self.gamma_ * sq))
        return np.asarray(self.qiskit_kernel_.evaluate(a, b))

    def _prepare_kernel(self, angles: np.ndarray) -> None:
        self.kernel_ = self._resolve_kernel(self.target_)
        if self.kernel_ == "exact":
            self.map_ = self._native_map()
        elif self.kernel_ == "qiskit-statevector":
            from qiskit_machine_learning.kernels import FidelityStatevectorKernel

            self.qiskit_kernel_ = FidelityStatevectorKernel(feature_map=self._circuit())
        elif self.kernel_ == "sampler":
            from qnrecovery.quantum._qml import make_sampler_kernel

            self.qiskit_kernel_ = make_sampler_kernel(
                self._circuit(), self.target_, self.max_circuits_per_job
            )
        else:
            variance = float(angles.var()) * angles.shape[1]
            self.gamma_ = 1.0 / variance if variance > 0 else 1.0

    def _fit_model(
        self, angles: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        self._prepare_kernel(angles)
        gram = self._gram(angles)
        decision = self._out_of_fold_decision(gram, y, rng)

        self.svc_ = self._svc().fit(gram, y)
        support = self.svc_.support_
        self.support_angles_ = angles[support]
        self.dual_coef_ = self.svc_.dual_coef_[0].copy()
        self.intercept_ = float(self.svc_.intercept_[0])
        if self.kernel_ == "exact":
            self.support_states_ = self.map_.statevectors(self.support_angles_)
        return decision

    def _svc(self) -> SVC:
        return SVC(kernel="precomputed", C=self.C, class_weight=self.class_weight)

    def _out_of_fold_decision(
        self, gram: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Decision values of each row from an SVC that did not see it."""
        folds = min(self.cv, int(np.bincount(y).min()))
        if folds < 2:
            # Too few rows of a class for held-out folds: calibrate in-sample.
            return np.asarray(self._svc().fit(gram, y).decision_function(gram))
        splitter = StratifiedKFold(
            folds, shuffle=True, random_state=int(rng.integers(2**31 - 1))
        )
        decision = np.empty(len(y))
        for train, test in splitter.split(gram, y):
            svc = self._svc().fit(gram[np.ix_(train, train)], y[train])
            decision[test] = svc.decision_function(gram[np.ix_(test, train)])
        return decision

    def _decision(self, angles: np.ndarray) -> np.ndarray:
        if self.kernel_ == "exact":
            states = self.map_.statevectors(angles)
            gram = fidelity_gram(
                states,
                self.support_states_,
                memory_limit_bytes=self.memory_limit_bytes,
                ray_block=self._ray_block(len(states)),
            )
        else:
            gram = self._gram(angles, self.support_angles_)
        return np.asarray(gram @ self.dual_coef_ + self.intercept_)


class VariationalPredictor(_QuantumPredictor):
    """Variational quantum classifier (qiskit-machine-learning's ``VQC``).

    A feature map encodes each row; a ``real_amplitudes`` ansatz with
    trainable angles follows; the measured integer modulo 2 (qubit 0) is
    the class, as in ``VQC``.
    COBYLA minimises a class-weighted cross-entropy over ``maxiter``
    iterations from a seeded random initial point. The ``statevector``
    target uses exact probabilities; ``aer`` and ``fake:<device>`` sample.

    VQC probabilities are not calibrated; Platt's sigmoid is fitted to the
    training rows' log-odds (in-sample, since each refit costs a full
    optimisation).

    Parameters
    ----------
    n_qubits : int, default=4
    feature_map : {"z", "zz", "pauli"}, default="z"
        ``z_feature_map`` by default: the ZZ map's products
        ``(pi - x_i)(pi - x_j)`` make a landscape COBYLA trains poorly within
        a few hundred evaluations (on scikit-learn's check data it stayed
        near chance where the Z map reached 88 %).
    reps : int, default=1
        Repetitions of the feature map.
    entanglement : str, default="linear"
        Entanglement of the feature map.
    paulis : tuple of str, default=("Z", "ZZ")
    ansatz_reps : int, default=2
        Repetitions of ``real_amplitudes``.
    ansatz_entanglement : str, default="reverse_linear"
    maxiter : int, default=100
        COBYLA objective evaluations; raised to the number of ansatz
        parameters + 2 when smaller (COBYLA's minimum).
    engine : {"auto", "native", "qiskit"}, default="auto"
        ``native`` computes the exact class probabilities from batched
        statevectors and the ansatz matrix (statevector target only);
        ``qiskit`` runs qiskit-machine-learning's ``VQC`` on the target's
        sampler. ``auto`` is ``native`` on ``statevector``, else ``qiskit``.
        Both minimise the same loss from the same initial point.
    reduction : {"pca", "select", "none"}, default="pca"
    bandwidth : float, default=0.5
        Angles span ``[0, bandwidth * pi]``.
    class_weight : "balanced", dict or None, default="balanced"
    max_train_samples : int or None, default=300
        Every COBYLA step evaluates the circuit on every training row, so
        the default keeps few.
    target : str, default="statevector"
    shots : int, default=1024
    memory_limit_bytes : int, default=4 GiB
    random_state : int, RandomState or None, default=None
        Seeds the subsample, the initial point and the sampler.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    n_features_in_ : int
    n_qubits_ : int
    engine_ : str
        The engine used.
    weights_ : ndarray
        Trained ansatz parameters.
    vqc_ : qiskit_machine_learning.algorithms.VQC
        The trained ``VQC`` (``qiskit`` engine only).
    initial_point_ : ndarray
    loss_curve_ : list of float
        Objective value at every evaluation.
    n_iter_ : int
        Objective evaluations COBYLA made.
    maxiter_ : int
        The evaluation budget used.
    """

    def __init__(
        self,
        *,
        n_qubits: int = 4,
        feature_map: str = "z",
        reps: int = 1,
        entanglement: str = "linear",
        paulis: tuple[str, ...] = ("Z", "ZZ"),
        ansatz_reps: int = 2,
        ansatz_entanglement: str = "reverse_linear",
        maxiter: int = 100,
        engine: str = "auto",
        reduction: str = "pca",
        bandwidth: float = 0.5,
        class_weight: str | dict[Any, float] | None = "balanced",
        max_train_samples: int | None = 300,
        target: str = "statevector",
        shots: int = 1024,
        memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
        random_state: Any = None,
    ) -> None:
        self.n_qubits = n_qubits
        self.feature_map = feature_map
        self.reps = reps
        self.entanglement = entanglement
        self.paulis = paulis
        self.ansatz_reps = ansatz_reps
        self.ansatz_entanglement = ansatz_entanglement
        self.maxiter = maxiter
        self.engine = engine
        self.reduction = reduction
        self.bandwidth = bandwidth
        self.class_weight = class_weight
        self.max_train_samples = max_train_samples
        self.target = target
        self.shots = shots
        self.memory_limit_bytes = memory_limit_bytes
        self.random_state = random_state

    def _check_params(self) -> None:
        owner = type(self).__name__
        _check_choice(owner, "feature_map", self.feature_map, FEATURE_MAPS)
        _check_int(owner, "reps", self.reps)
        _check_int(owner, "ansatz_reps", self.ansatz_reps)
        _check_int(owner, "maxiter", self.maxiter)
        _check_choice(owner, "engine", self.engine, ENGINES)

    def _fit_model(
        self, angles: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        feature_map = feature_map_circuit(
            self.feature_map,
            self.n_qubits_,
            reps=self.reps,
            entanglement=self.entanglement,
            paulis=self.paulis,
        )
        ansatz = ansatz_circuit(
            self.n_qubits_, reps=self.ansatz_reps, entanglement=self.ansatz_entanglement
        )
        weights = _class_weights(self.class_weight, y, type(self).__name__)
        self.initial_point_ = rng.uniform(-np.pi, np.pi, ansatz.num_parameters)
        self.loss_curve_: list[float] = []
        self.engine_ = self._resolve_engine()
        # COBYLA needs at least (parameters + 2) evaluations to start.
        self.maxiter_ = max(int(self.maxiter), ansatz.num_parameters + 2)
        if self.engine_ == "native":
            self._fit_native(feature_map, ansatz, weights, angles, y)
        else:
            self._fit_qiskit(feature_map, ansatz, weights, angles, y)
        self.n_iter_ = len(self.loss_curve_)
        return self._decision(angles)

    def _resolve_engine(self) -> str:
        if self.engine == "auto":
            return "native" if self.target_.is_exact else "qiskit"
        if self.engine == "native" and not self.target_.is_exact:
            raise ConfigError(
                f"engine='native' of `{type(self).__name__}` computes exact "
                f"probabilities and needs the 'statevector' target; got "
                f"{self.target_.name!r}. Use engine='qiskit' or 'auto'."
            )
        return str(self.engine)

    def _fit_native(
        self,
        feature_map: Any,
        ansatz: Any,
        weights: np.ndarray,
        angles: np.ndarray,
        y: np.ndarray,
    ) -> None:
        from qiskit_machine_learning.optimizers import COBYLA

        from qnrecovery.quantum._variational import NativeVariational

        self.map_ = self._state_map(feature_map)
        self.model_ = NativeVariational(ansatz, weights)
        states = self.map_.statevectors(angles)

        def objective(theta: Any) -> float:
            value = self.model_.loss(states, y, np.asarray(theta))
            self.loss_curve_.append(value)
            return value

        result = COBYLA(maxiter=self.maxiter_).minimize(objective, self.initial_point_)
        self.weights_ = np.asarray(result.x)

    def _state_map(self, feature_map: Any) -> PauliZMap | CircuitMap:
        if (
            self.feature_map in ("zz", "z")
            and self.entanglement in NATIVE_ENTANGLEMENTS
        ):
            return PauliZMap(
                self.n_qubits_,
                reps=self.reps,
                entanglement=self.entanglement,
                pairs=self.feature_map == "zz",
                memory_limit_bytes=self.memory_limit_bytes,
            )
        return CircuitMap(feature_map, memory_limit_bytes=self.memory_limit_bytes)

    def _fit_qiskit(
        self,
        feature_map: Any,
        ansatz: Any,
        weights: np.ndarray,
        angles: np.ndarray,
        y: np.ndarray,
    ) -> None:
        from qnrecovery.quantum._qml import make_vqc

        self.vqc_ = make_vqc(
            feature_map,
            ansatz,
            self.target_,
            weights=weights,
            maxiter=self.maxiter_,
            initial_point=self.initial_point_,
            callback=self._record(self.loss_curve_),
        )
        self.vqc_.fit(angles, np.eye(2)[y])
        self.weights_ = np.asarray(self.vqc_.weights)

    @staticmethod
    def _record(curve: list[float]) -> Callable[[np.ndarray, float], None]:
        def callback(weights: np.ndarray, value: float) -> None:
            curve.append(float(value))

        return callback

    def _decision(self, angles: np.ndarray) -> np.ndarray:
        """Log-odds of class 1 under the trained circuit."""
        if self.engine_ == "native":
            p1 = self.model_.proba(self.map_.statevectors(angles), self.weights_)
        else:
            p1 = np.asarray(self.vqc_.predict_proba(angles))[:, 1]
        p1 = np.clip(p1, 1e-9, 1.0 - 1e-9)
        return np.asarray(np.log(p1) - np.log1p(-p1))
