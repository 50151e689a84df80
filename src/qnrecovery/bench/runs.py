"""A suite's independent runs, executed here or spread over Ray tasks.

A benchmark suite is made of runs that do not depend on each other: one
model on one data set, one solver on one instance, one detector on one file.
A suite describes each as a :class:`Run` (a module-level function and its
keyword arguments) and hands the list to a :class:`RunExecutor`, which
returns the results in the order of the runs:

- :class:`LocalRuns` calls them one after another in this process;
- :class:`RayRuns` submits every run as a Ray task and collects the results
  as they finish.

Every random choice of a run comes from its arguments (a seed, or problems
drawn by the suite before the runs are made), never from state shared
between runs, so both executors compute the same results; only wall times
differ, because runs on one machine compete for its cores.

Examples
--------
>>> from qnrecovery.bench.runs import LocalRuns, Run
>>> runs = [Run(f"square {x}", pow, {"base": x, "exp": 2}) for x in range(3)]
>>> LocalRuns().map(runs)
[0, 1, 4]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from qnrecovery.exceptions import ConfigError

__all__ = [
    "LocalRuns",
    "RayRuns",
    "Run",
    "RunExecutor",
    "differences",
    "map_runs",
    "untimed",
]

logger = logging.getLogger(__name__)

#: Called with a short description of the step and the fraction done (0..1).
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Run:
    """One independent measurement: ``function(**kwargs)``.

    Attributes
    ----------
    label : str
        What the run measures, for progress and errors (``"ai4i / logistic"``).
    function : callable
        A module-level function, so that it can be sent to another process.
    kwargs : mapping
        Its keyword arguments. An argument object passed to several runs of
        one :meth:`RunExecutor.map` call is sent to the Ray object store once.
    num_cpus : float, default=1.0
        CPUs the run keeps busy; Ray starts no more runs on a node than its
        CPUs allow. A run that starts processes of its own asks for more.
    """

    label: str
    function: Callable[..., Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    num_cpus: float = 1.0

    def __call__(self) -> Any:
        return self.function(**self.kwargs)


class RunExecutor(Protocol):
    """Executes a suite's runs and returns their results in order."""

    #: ``"local"`` or ``"ray"``; recorded in the suite's results.
    name: str

    def map(
        self,
        runs: Sequence[Run],
        progress: Progress | None = None,
        *,
        span: tuple[float, float] = (0.0, 1.0),
    ) -> list[Any]:
        """Execute `runs`; return their results in the same order.

        Parameters
        ----------
        runs : sequence of Run
        progress : callable, optional
            Called with the label of each run and the suite's fraction done,
            which moves from ``span[0]`` to ``span[1]`` over these runs.
        span : tuple of float, default=(0.0, 1.0)
            The part of the suite these runs make up.
        """
        ...

    def describe(self) -> dict[str, Any]:
        """Where the runs went, for ``results.json``."""
        ...


def _step(span: tuple[float, float], done: int, total: int) -> float:
    start, stop = span
    return start + (stop - start) * done / max(total, 1)


class LocalRuns:
    """Every run in this process, one after another."""

    name = "local"

    def map(
        self,
        runs: Sequence[Run],
        progress: Progress | None = None,
        *,
        span: tuple[float, float] = (0.0, 1.0),
    ) -> list[Any]:
        """Call every run in order; see :meth:`RunExecutor.map`."""
        results = []
        for done, run in enumerate(runs):
            if progress is not None:
                progress(run.label, _step(span, done, len(runs)))
            results.append(run())
        return results

    def describe(self) -> dict[str, Any]:
        """``{"runtime": "local"}``."""
        return {"runtime": "local"}


#: Environment variables that set the BLAS and OpenMP thread counts.
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def _blas_threads() -> int:
    """The BLAS thread count of this process (NumPy's BLAS; 1 without one)."""
    import numpy  # noqa: F401  (loads the BLAS library that is asked about)
    from threadpoolctl import threadpool_info

    counts = [
        int(pool["num_threads"])
        for pool in threadpool_info()
        if pool.get("user_api") == "blas"
    ]
    return max(counts, default=1)


def _call(_run_function: Callable[..., Any], **kwargs: Any) -> Any:
    """The body of every Ray task: one run.

    The arguments are passed at the top level, where Ray turns object-store
    references back into objects.
    """
    return _run_function(**kwargs)


class RayRuns:
    """Every run as a Ray task, as many at once as the cluster's CPUs allow.

    Parameters
    ----------
    address : str, optional
        An existing Ray cluster (``"ray://host:10001"`` or ``"auto"``); its
        nodes must have qnrecovery installed and see the data folders the
        suites read. Without it a local Ray instance is started on first
        use, unless Ray is already initialised in this process.
    blas_threads : int or None, default=None
        Threads of the BLAS library (OpenBLAS, MKL) in every task. ``None``
        uses as many as this process has. A matrix product sums in an order
        that depends on the thread count, so with the same count a run's
        floating-point results equal the local run's bit for bit on the same
        kind of machine; 1 leaves more cores to parallel runs, and results
        may then differ in the last bits.

    Notes
    -----
    Runs on one node compete for its cores, so their wall times are longer
    than alone; compare times only between results of the same runtime.
    Call :meth:`close` (or use the executor as a context manager) to shut
    down the Ray instance it started.
    """

    name = "ray"

    def __init__(
        self, address: str | None = None, *, blas_threads: int | None = None
    ) -> None:
        if blas_threads is not None and (
            isinstance(blas_threads, bool)
            or not isinstance(blas_threads, int)
            or blas_threads < 1
        ):
            raise ConfigError(
                f"`blas_threads` must be a positive integer or None; got "
                f"{blas_threads!r}."
            )
        self.address = address
        self.blas_threads = blas_threads
        self._ray: Any = None
        self._started_here = False
        self._task: Any = None
        self._runtime_env: dict[str, Any] = {}

    def __enter__(self) -> RayRuns:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> Any:
        if self._ray is not None:
            return self._ray
        from qnrecovery.ray_runtime import join_ray

        ray, self._started_here = join_ray(self.address, "Benchmark runs on Ray")
        threads = str(self.blas_threads or _blas_threads())
        variables = {name: threads for name in _THREAD_VARIABLES}
        self._ray = ray
        self._task = ray.remote(_call)
        self._runtime_env = {"env_vars": variables}
        return ray

    def map(
        self,
        runs: Sequence[Run],
        progress: Progress | None = None,
        *,
        span: tuple[float, float] = (0.0, 1.0),
    ) -> list[Any]:
        """Submit every run, wait for all; see :meth:`RunExecutor.map`.

        Raises
        ------
        Exception
            The first failing run's own exception; the runs still pending
            are cancelled.
        """
        if not runs:
            return []
        ray = self._connect()
        started = time.perf_counter()
        shared = self._share_arguments(ray, runs)

        pending: dict[Any, int] = {}
        for index, run in enumerate(runs):
            kwargs = {
                key: shared.get(id(value), value) for key, value in run.kwargs.items()
            }
            task = self._task.options(
                num_cpus=run.num_cpus, max_retries=0, runtime_env=self._runtime_env
            )
            pending[task.remote(run.function, **kwargs)] = index

        results: list[Any] = [None] * len(runs)
        done = 0
        if progress is not None:
            progress(f"{len(runs)} runs queued on Ray", _step(span, 0, len(runs)))
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                index = pending.pop(ready[0])
                results[index] = self._result(ray, ready[0], runs[index])
                done += 1
                if progress is not None:
                    progress(f"{runs[index].label} done", _step(span, done, len(runs)))
        finally:
            for ref in pending:
                # Without force, a running task gets KeyboardInterrupt and its
                # `finally` blocks run: worker processes it started are reaped.
                ray.cancel(ref, force=False)
        logger.info(
            "%d runs on Ray in %.1f s", len(runs), time.perf_counter() - started
        )
        return results

    @staticmethod
    def _share_arguments(ray: Any, runs: Sequence[Run]) -> dict[int, Any]:
        """Object-store references of arguments passed to more than one run.

        Ray resolves a reference given as a task argument back into the
        object, so such an argument is serialised once instead of per run.
        """
        seen: dict[int, int] = {}
        values: dict[int, Any] = {}
        for run in runs:
            for value in run.kwargs.values():
                if isinstance(value, (int, float, str, bool, type(None))):
                    continue
                seen[id(value)] = seen.get(id(value), 0) + 1
                values[id(value)] = value
        return {key: ray.put(values[key]) for key, count in seen.items() if count > 1}

    @staticmethod
    def _result(ray: Any, ref: Any, run: Run) -> Any:
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            if isinstance(error.cause, ray.exceptions.RaySystemError):
                raise ConfigError(
                    f"Run {run.label!r} could not start on a Ray worker: "
                    f"{error.cause}. The function of a run must live in a "
                    "module installed on every node (not in a script or a "
                    "test file)."
                ) from None
            cause = error.as_instanceof_cause()
            logger.error("Run %r failed on Ray: %s", run.label, cause)
            raise cause from None

    def describe(self) -> dict[str, Any]:
        """The runtime, the cluster's address, nodes and CPUs."""
        ray = self._connect()
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        return {
            "runtime": "ray",
            "address": self.address or "local",
            "nodes": len(nodes),
            "cpus": float(ray.cluster_resources().get("CPU", 0.0)),
        }

    def close(self) -> None:
        """Shut down the Ray instance this executor started, if any."""
        if self._ray is not None and self._started_here:
            self._ray.shutdown()
        self._ray = None
        self._task = None
        self._started_here = False


def map_runs(
    runs: Sequence[Run],
    executor: RunExecutor | None = None,
    progress: Progress | None = None,
    *,
    span: tuple[float, float] = (0.0, 1.0),
) -> list[Any]:
    """Execute `runs` with `executor` (:class:`LocalRuns` when None)."""
    return (executor or LocalRuns()).map(runs, progress, span=span)


#: Figure keys that hold wall times or ratios of them.
_TIMED_KEYS = frozenset({"ratio", "time_ratio", "speedup", "seconds", "load_average"})


def _is_timed(key: str) -> bool:
    return key.endswith(("_s", "_ms")) or key in _TIMED_KEYS


def untimed(figures: Any) -> Any:
    """`figures` without wall times, for comparing two runs of a suite.

    Drops every mapping key that ends in ``_s`` or ``_ms``, ``seconds`` and
    the ratios of times (``ratio``, ``time_ratio``, ``speedup``); tuples
    become lists and NaN becomes the string ``"nan"``, so equal figures
    compare equal.
    """
    if isinstance(figures, Mapping):
        return {
            key: untimed(value)
            for key, value in figures.items()
            if not _is_timed(str(key))
        }
    if isinstance(figures, list | tuple):
        return [untimed(value) for value in figures]
    if isinstance(figures, float) and figures != figures:
        return "nan"
    return figures


def differences(a: Any, b: Any, path: str = "figures") -> list[str]:
    """Where the untimed figures `a` and `b` differ, as readable paths.

    Returns
    -------
    list of str
        ``"<path>: <a value> != <b value>"`` per difference; empty when the
        figures are equal.
    """
    a, b = untimed(a), untimed(b)
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                found.append(f"{path}.{key}: only in one run")
            else:
                found += differences(a[key], b[key], f"{path}.{key}")
        return found
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)} items"]
        found = []
        for index, (left, right) in enumerate(zip(a, b, strict=True)):
            found += differences(left, right, f"{path}[{index}]")
        return found
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]
