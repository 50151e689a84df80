"""IBM Quantum through ``qiskit-ibm-runtime``: the hardware-faithful path.

Circuits are transpiled to the backend's instruction set architecture (its
basis gates, coupling map and timing) by a preset pass manager, then sampled by
the runtime's client-side sampler (``qiskit_ibm_runtime.executor_sampler.
Sampler``; ``SamplerV2`` is deprecated since 0.50) inside a ``Batch`` or
``Session``, with the shot budget, time-out and error suppression of the
``targets`` settings.

The same functions accept a fake device (``FakeManilaV2()``...) as the backend:
``qiskit-ibm-runtime`` then runs the batch and the sampler in its local mode on
Aer with the device's noise, which is how this path is tested without an
account.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qnrecovery.exceptions import ConfigError, MissingCredentialsError
from qnrecovery.qpu.credentials import Credential, redact, require_ibm_token
from qnrecovery.qpu.fallback import FallbackResult, run_with_fallback

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from qnrecovery.config import IBMConfig, TargetsConfig

__all__ = [
    "ibm_backend",
    "isa_circuits",
    "runtime_sampler",
    "runtime_service",
    "sample",
    "sample_with_fallback",
    "sampler_options",
]

logger = logging.getLogger(__name__)


def _settings(targets: TargetsConfig | None) -> TargetsConfig:
    from qnrecovery.config import TargetsConfig

    return targets if targets is not None else TargetsConfig()


def runtime_service(settings: IBMConfig | None = None, *, target: str = "ibm") -> Any:
    """Open a ``QiskitRuntimeService`` with the configured account.

    Parameters
    ----------
    settings : IBMConfig or None
        The ``targets.ibm`` section.
    target : str
        The target being built, for messages.

    Raises
    ------
    MissingCredentialsError
        If no token is found, or the service refuses the account.
    """
    from qiskit_ibm_runtime import QiskitRuntimeService

    credential = require_ibm_token(settings, target=target)
    kwargs = _service_kwargs(settings, credential)
    try:
        return QiskitRuntimeService(**kwargs)
    except Exception as err:
        message = redact(str(err), credential.token)
        raise MissingCredentialsError(
            f"IBM Quantum refused the account for {target!r} ({credential.source}): "
            f"{type(err).__name__}: {message}"
        ) from None


def _service_kwargs(
    settings: IBMConfig | None, credential: Credential
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if settings is not None and settings.channel:
        kwargs["channel"] = settings.channel
    if settings is not None and settings.instance:
        kwargs["instance"] = settings.instance
    if credential.source.startswith("saved account"):
        if settings is not None and settings.account_name:
            kwargs["name"] = settings.account_name
        return kwargs
    assert credential.token is not None
    kwargs["token"] = credential.token.get_secret_value()
    return kwargs


def ibm_backend(
    name: str, settings: IBMConfig | None = None, *, service: Any = None
) -> Any:
    """Return the IBM backend called `name` (contacts IBM Quantum).

    Raises
    ------
    MissingCredentialsError
        If no account is configured.
    ConfigError
        If the account has no backend of that name.
    """
    target = f"ibm:{name}"
    if service is None:
        service = runtime_service(settings, target=target)
    try:
        return service.backend(name)
    except Exception as err:
        secret = settings.token if settings is not None else None
        raise ConfigError(
            f"IBM Quantum has no backend {name!r} for this account "
            f"({type(err).__name__}: {redact(str(err), secret)}). List them with "
            "QiskitRuntimeService().backends()."
        ) from None


def isa_circuits(
    circuits: QuantumCircuit | Sequence[QuantumCircuit],
    backend: Any,
    *,
    optimization_level: int = 1,
    seed: int | None = None,
) -> list[QuantumCircuit]:
    """Transpile `circuits` to `backend`'s instruction set and coupling map.

    Raises
    ------
    ConfigError
        If `optimization_level` is not 0-3.
    """
    from qiskit import QuantumCircuit
    from qiskit.transpiler import generate_preset_pass_manager

    if optimization_level not in (0, 1, 2, 3):
        raise ConfigError(
            f"optimization_level must be 0, 1, 2 or 3; got {optimization_level!r}."
        )
    batch = [circuits] if isinstance(circuits, QuantumCircuit) else list(circuits)
    manager = generate_preset_pass_manager(
        optimization_level=optimization_level, backend=backend, seed_transpiler=seed
    )
    return list(manager.run(batch))


def sampler_options(
    targets: TargetsConfig | None = None, *, seed: int | None = None
) -> dict[str, Any]:
    """The runtime sampler's options for these settings.

    Shots, dynamical decoupling, gate and measurement twirling, and the
    longest execution time (``job_timeout_s``, which bounds the QPU time as
    well as the wait). `seed` only reaches local (fake-device) simulation.
    """
    settings = _settings(targets)
    suppression = settings.error_suppression
    return {
        "default_shots": settings.shots,
        "max_execution_time": max(1, int(settings.job_timeout_s)),
        "dynamical_decoupling": {
            "enable": suppression.dynamical_decoupling,
            "sequence_type": suppression.dd_sequence,
        },
        "twirling": {
            "enable_gates": suppression.twirl_gates,
            "enable_measure": suppression.twirl_measure,
        },
        "simulator": {"seed_simulator": seed},
    }


def _open_mode(backend: Any, mode: str) -> Any:
    from qiskit_ibm_runtime import Batch, Session

    if mode == "batch":
        return Batch(backend=backend)
    if mode == "session":
        return Session(backend=backend)
    return None


def runtime_sampler(
    backend: Any,
    targets: TargetsConfig | None = None,
    *,
    seed: int | None = None,
    mode: Any = None,
) -> Any:
    """Return the runtime's sampler on `backend` (or in `mode`), configured.

    With ``execution_mode`` ``batch`` or ``session`` and no `mode` given, a
    new one is opened; close it with ``sampler.mode.close()`` when done.
    """
    from qiskit_ibm_runtime.executor_sampler import Sampler

    settings = _settings(targets)
    if mode is None:
        mode = _open_mode(backend, settings.ibm.execution_mode)
    return Sampler(mode=mode or backend, options=sampler_options(settings, seed=seed))


def _backend_name(backend: Any) -> str:
    return str(getattr(backend, "name", type(backend).__name__))


def sample(
    circuits: QuantumCircuit | Sequence[QuantumCircuit],
    backend: Any,
    targets: TargetsConfig | None = None,
    *,
    seed: int | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Transpile `circuits` for `backend` and sample them in one job.

    Parameters
    ----------
    circuits : QuantumCircuit or sequence of QuantumCircuit
        Measured circuits.
    backend : IBMBackend or fake device
        Where they run; a fake device runs in the runtime's local mode.
    targets : TargetsConfig or None
        Shots, optimisation level, execution mode, time-out, error suppression.
    seed : int or None
        Seed of the transpiler and of local simulation.

    Returns
    -------
    result : PrimitiveResult
        One pub result per circuit.
    info : dict
        ``backend``, ``mode``, ``job_id``, ``shots``, ``optimization_level``,
        ``depth`` and ``two_qubit_gates`` of the transpiled circuits, the
        error suppression applied, and ``wall_s``.

    Raises
    ------
    TimeoutError
        If a remote job is not done within ``job_timeout_s``.
    """
    settings = _settings(targets)
    start = time.perf_counter()
    isa = isa_circuits(
        circuits, backend, optimization_level=settings.optimization_level, seed=seed
    )

    mode = _open_mode(backend, settings.ibm.execution_mode)
    try:
        sampler = runtime_sampler(backend, settings, seed=seed, mode=mode)
        job = sampler.run(isa)
        logger.info(
            "submitted %d circuit(s) to %s as job %s",
            len(isa),
            _backend_name(backend),
            job.job_id(),
        )
        result = _wait(job, settings.job_timeout_s)
    finally:
        if mode is not None:
            mode.close()

    info = {
        "backend": _backend_name(backend),
        "mode": settings.ibm.execution_mode,
        "job_id": job.job_id(),
        "shots": settings.shots,
        "optimization_level": settings.optimization_level,
        "depth": [c.depth() for c in isa],
        "two_qubit_gates": [_two_qubit_gates(c) for c in isa],
        "error_suppression": settings.error_suppression.model_dump(),
        "wall_s": time.perf_counter() - start,
    }
    return result, info


def _wait(job: Any, timeout_s: float) -> Any:
    from qiskit_ibm_runtime import RuntimeJobV2

    if isinstance(job, RuntimeJobV2):
        from qiskit_ibm_runtime.exceptions import RuntimeJobTimeoutError

        try:
            return job.result(timeout=timeout_s)
        except RuntimeJobTimeoutError as err:
            _cancel(job)
            raise TimeoutError(
                f"job {job.job_id()} not done in {timeout_s:g} s"
            ) from err
    return job.result()  # local jobs have finished when run() returns


def _cancel(job: Any) -> None:
    try:
        job.cancel()
    except Exception as err:
        logger.warning("cancelling job %s failed: %s", job.job_id(), type(err).__name__)
    else:
        logger.info("cancelled job %s after its time-out", job.job_id())


def _two_qubit_gates(circuit: QuantumCircuit) -> int:
    return sum(1 for item in circuit.data if item.operation.num_qubits == 2)


def sample_with_fallback(
    circuits: QuantumCircuit | Sequence[QuantumCircuit],
    backend: Any,
    targets: TargetsConfig | None = None,
    *,
    seed: int | None = None,
) -> FallbackResult[Any]:
    """:func:`sample`, under the ``targets.fallback`` policy.

    The fallback samples the same circuits on Aer's ideal simulator with the
    same shots. ``info`` merges the job's info with ``fallback`` and ``reason``.

    Raises
    ------
    QPUJobError, QPUTimeoutError
        If the job fails or times out and the policy is ``fail``.
    """
    settings = _settings(targets)
    job_info: dict[str, Any] = {}

    def job() -> Any:
        result, info = sample(circuits, backend, settings, seed=seed)
        job_info.update(info)
        return result

    def local() -> Any:
        return _sample_locally(circuits, settings.shots, seed)

    outcome = run_with_fallback(
        job,
        local,
        policy=settings.fallback,
        timeout_s=settings.job_timeout_s,
        target=f"ibm:{_backend_name(backend)}",
        fallback_target="aer",
        secrets=(settings.ibm.token,),
    )
    return FallbackResult(outcome.value, {**job_info, **outcome.info})


def _sample_locally(
    circuits: QuantumCircuit | Sequence[QuantumCircuit], shots: int, seed: int | None
) -> Any:
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import SamplerV2

    isa = isa_circuits(circuits, AerSimulator(), optimization_level=1, seed=seed)
    return SamplerV2(default_shots=shots, seed=seed).run(isa).result()
