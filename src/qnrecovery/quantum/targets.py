"""Where quantum work runs: one setting shared by every quantum backend.

A target is named by a short string:

``statevector`` (default)
    Exact simulation. Backends that can use exact amplitudes (the quantum
    kernel, Grover's success probability) compute them directly; anything
    that needs samples draws them from :class:`qiskit.primitives.StatevectorSampler`.
``aer``
    Qiskit Aer's ``SamplerV2`` with a number of shots and a seed.
``fake:<device>``
    Aer with the noise model, basis gates and coupling map of a fake IBM
    device from ``qiskit_ibm_runtime.fake_provider`` (for example
    ``fake:manila`` or ``fake:brisbane``). Circuits are transpiled to the
    device before they run.
``ibm:<backend>``
    A real IBM Quantum backend through ``qiskit-ibm-runtime``. It needs an
    account (``QISKIT_IBM_TOKEN`` or a saved one); circuits are transpiled to
    the backend's instruction set and sampled in a batch or session with the
    error suppression of the ``targets`` settings (:mod:`qnrecovery.qpu.ibm`,
    ``docs/hardware.md``).

Qiskit is imported only when a sampler or backend is asked for, so parsing a
target stays cheap.
"""

from __future__ import annotations

import importlib
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from qnrecovery.exceptions import ConfigError, ResourceLimitError
from qnrecovery.qpu.specs import QUANTUM_TARGET

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from qnrecovery.config import TargetsConfig

__all__ = [
    "DEFAULT_MEMORY_LIMIT_BYTES",
    "QuantumTarget",
    "TargetKind",
    "check_statevector_memory",
    "format_bytes",
    "load_fake_device",
    "parse_target",
    "statevector_bytes",
]

logger = logging.getLogger(__name__)

TargetKind = Literal["statevector", "aer", "fake", "ibm"]

#: Memory a single simulation may use unless a backend is told otherwise.
DEFAULT_MEMORY_LIMIT_BYTES = 4 * 2**30

#: Bytes per amplitude of a double-precision complex statevector.
_AMPLITUDE_BYTES = 16


def statevector_bytes(num_qubits: int, copies: int = 1) -> int:
    """Return the bytes `copies` complex128 statevectors of `num_qubits` need."""
    return copies * _AMPLITUDE_BYTES * 2**num_qubits


def format_bytes(num_bytes: float) -> str:
    """Return `num_bytes` in a human unit, e.g. ``'4.0 GiB'``."""
    value = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    raise AssertionError("unreachable")


def check_statevector_memory(
    num_qubits: int,
    *,
    limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
    copies: int = 1,
    what: str = "the simulation",
) -> int:
    """Refuse a simulation whose statevectors would not fit in `limit_bytes`.

    Parameters
    ----------
    num_qubits : int
        Width of the circuit.
    limit_bytes : int, default=DEFAULT_MEMORY_LIMIT_BYTES
        Largest memory the caller allows.
    copies : int, default=1
        How many statevectors are held at once.
    what : str
        What is being simulated, for the error message.

    Returns
    -------
    int
        The bytes needed.

    Raises
    ------
    ResourceLimitError
        If the statevectors need more than `limit_bytes`.
    """
    needed = statevector_bytes(num_qubits, copies)
    if needed > limit_bytes:
        raise ResourceLimitError(
            f"{what} needs {num_qubits} qubits: {copies} statevector(s) of "
            f"2**{num_qubits} amplitudes take {format_bytes(needed)}, over the "
            f"memory limit of {format_bytes(limit_bytes)}. Use fewer qubits or "
            "raise the backend's memory_limit_bytes."
        )
    return needed


_FAKE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def load_fake_device(name: str) -> Any:
    """Return the fake IBM device called `name` (``manila``, ``FakeManilaV2``...).

    Raises
    ------
    ConfigError
        If no fake device has that name.
    """
    if not _FAKE_NAME.match(name):
        raise ConfigError(f"Fake device name {name!r} is not a valid name.")
    module = importlib.import_module("qiskit_ibm_runtime.fake_provider")

    stem = name.lower().removeprefix("fake_").removeprefix("fake").removesuffix("v2")
    candidates = {
        attr.lower().removeprefix("fake").removesuffix("v2"): attr
        for attr in dir(module)
        if attr.startswith("Fake") and "Provider" not in attr
    }
    attr = candidates.get(stem.replace("_", ""))
    if attr is None:
        known = ", ".join(sorted(candidates)[:12])
        raise ConfigError(
            f"No fake IBM device is called {name!r}. Use a name from "
            f"qiskit_ibm_runtime.fake_provider such as {known}, ..."
        )
    return getattr(module, attr)()


@dataclass(frozen=True)
class QuantumTarget:
    """A parsed execution target.

    Parameters
    ----------
    kind : {'statevector', 'aer', 'fake', 'ibm'}
        Simulator or device family.
    device : str or None
        Fake device or IBM backend name, for ``fake`` and ``ibm``.
    shots : int
        Shots per circuit for sampling targets.
    seed : int or None
        Seed of the sampler and of the simulator, for reproducible counts.
    optimization_level : int, default=1
        Preset pass manager level used when circuits are transpiled.
    settings : TargetsConfig or None, default=None
        For ``ibm``: account, execution mode, time-out and error suppression
        (the ``targets`` section of the config); ``None`` uses the defaults
        and the token from the environment or the saved account.
    """

    kind: TargetKind = "statevector"
    device: str | None = None
    shots: int = 1024
    seed: int | None = None
    optimization_level: int = 1
    settings: TargetsConfig | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The target as it is written in a config, e.g. ``'fake:manila'``."""
        return self.kind if self.device is None else f"{self.kind}:{self.device}"

    @property
    def is_exact(self) -> bool:
        """Whether exact amplitudes are available (no shots, no noise)."""
        return self.kind == "statevector"

    @property
    def is_noisy(self) -> bool:
        """Whether the target simulates a device's noise."""
        return self.kind in ("fake", "ibm")

    def backend(self) -> Any:
        """Return the Qiskit backend circuits are transpiled for and run on.

        ``statevector`` and ``aer`` give an ideal :class:`AerSimulator`;
        ``fake:<device>`` gives ``AerSimulator.from_backend(device)``;
        ``ibm:<backend>`` gives the IBM backend (this contacts IBM Quantum).

        Raises
        ------
        MissingCredentialsError
            For ``ibm`` without an account.
        """
        if self.kind == "ibm":
            assert self.device is not None
            return _ibm_backend(self.device, self.settings)

        from qiskit_aer import AerSimulator

        if self.kind in ("statevector", "aer"):
            return AerSimulator(seed_simulator=self.seed)
        assert self.device is not None
        return AerSimulator.from_backend(
            load_fake_device(self.device), seed_simulator=self.seed
        )

    def sampler(self, *, threads: int | None = None) -> Any:
        """Return a V2 sampler for this target.

        ``statevector`` gives :class:`qiskit.primitives.StatevectorSampler`;
        ``aer`` and ``fake:<device>`` give :class:`qiskit_aer.primitives.SamplerV2`
        (for ``fake`` on the device's noisy simulator; transpile circuits with
        :meth:`transpile` first).

        ``ibm:<backend>`` gives the runtime's sampler in a batch or session
        (close it with ``sampler.mode.close()``) with the configured error
        suppression.

        Parameters
        ----------
        threads : int or None, default=None
            Aer's ``max_parallel_threads``; ``None`` keeps Aer's default (every
            core). Many small circuits run faster on one thread. Ignored by
            ``ibm``.
        """
        if self.kind == "ibm":
            from qnrecovery.config import TargetsConfig
            from qnrecovery.qpu.ibm import runtime_sampler

            settings = (self.settings or TargetsConfig()).model_copy(
                update={
                    "shots": self.shots,
                    "optimization_level": self.optimization_level,
                }
            )
            return runtime_sampler(self.backend(), settings, seed=self.seed)

        if self.kind == "statevector":
            from qiskit.primitives import StatevectorSampler

            return StatevectorSampler(default_shots=self.shots, seed=self.seed)

        from qiskit_aer.primitives import SamplerV2

        if self.kind == "aer":
            options = {} if threads is None else {"max_parallel_threads": threads}
            return SamplerV2(
                default_shots=self.shots,
                seed=self.seed,
                options={"backend_options": options},
            )
        backend = self.backend()
        if threads is not None:
            backend.set_options(max_parallel_threads=threads)
        return SamplerV2.from_backend(backend, default_shots=self.shots, seed=self.seed)

    def pass_manager(self) -> Any:
        """Return the preset pass manager that :meth:`transpile` runs.

        Hand it to primitives-based code that transpiles on its own (for
        example ``ComputeUncompute(pass_manager=...)`` or ``VQC``).
        """
        from qiskit.transpiler import generate_preset_pass_manager

        return generate_preset_pass_manager(
            optimization_level=self.optimization_level,
            backend=self.backend(),
            seed_transpiler=self.seed,
        )

    def transpile(self, circuits: QuantumCircuit | list[QuantumCircuit]) -> Any:
        """Transpile `circuits` for this target's backend.

        Ideal targets only decompose to gates Aer knows; ``fake:<device>``
        maps onto the device's basis gates and coupling map.
        """
        return self.pass_manager().run(circuits)


_TARGET = QUANTUM_TARGET

#: IBM backends already opened, by name and account settings.
_IBM_BACKENDS: dict[tuple[str, Any], Any] = {}


def _ibm_backend(name: str, settings: TargetsConfig | None) -> Any:
    from qnrecovery.qpu.ibm import ibm_backend

    account = settings.ibm if settings is not None else None
    key = (name, account)
    if key not in _IBM_BACKENDS:
        _IBM_BACKENDS[key] = ibm_backend(name, account)
    return _IBM_BACKENDS[key]


def parse_target(
    spec: str | QuantumTarget,
    *,
    shots: int = 1024,
    seed: int | None = None,
    optimization_level: int = 1,
    settings: TargetsConfig | None = None,
) -> QuantumTarget:
    """Parse a target string such as ``'aer'`` or ``'fake:manila'``.

    Parameters
    ----------
    spec : str or QuantumTarget
        The target; a :class:`QuantumTarget` is returned as is.
    shots : int, default=1024
        Shots per circuit for sampling targets.
    seed : int or None
        Seed for samplers and simulators.
    optimization_level : int, default=1
        Transpiler preset level (0-3).
    settings : TargetsConfig or None, default=None
        Account and execution settings used by ``ibm:<backend>``.

    Returns
    -------
    QuantumTarget

    Raises
    ------
    ConfigError
        If the string names no target, or a setting is out of range.
    """
    if isinstance(spec, QuantumTarget):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(f"A quantum target is a string; got {spec!r}.")

    match = _TARGET.match(spec.strip())
    if match is None:
        raise ConfigError(
            f"Unknown quantum target {spec!r}. Use 'statevector' (exact, the "
            "default), 'aer' (shots), 'fake:<device>' (Aer with a fake IBM "
            "device's noise) or 'ibm:<backend>'."
        )
    kind, device = match.group(1), match.group(2)
    if kind in ("fake", "ibm") and not device:
        raise ConfigError(f"Target {spec!r} needs a device name: '{kind}:<name>'.")
    if kind in ("statevector", "aer") and device:
        raise ConfigError(f"Target {kind!r} takes no device name; got {spec!r}.")
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise ConfigError(f"shots must be a positive integer; got {shots!r}.")
    if optimization_level not in (0, 1, 2, 3):
        raise ConfigError(
            f"optimization_level must be 0, 1, 2 or 3; got {optimization_level!r}."
        )
    if kind == "fake":
        assert device is not None
        load_fake_device(device)  # fail now, not in the middle of a fit

    return QuantumTarget(
        kind=kind,  # type: ignore[arg-type]
        device=device,
        shots=shots,
        seed=seed,
        optimization_level=optimization_level,
        settings=settings,
    )
