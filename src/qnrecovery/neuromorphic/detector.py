"""The ``spiking`` anomaly detector: encoders, a Brian2 network, a fused read-out.

Score convention: as for every detector, scores lie in [0, 1] and **higher
means more anomalous**; a row of familiar data scores 0.

How a row is scored
-------------------
1. **Encoding.** Each metric has its own population of input channels: a
   step-forward (delta) code with ``n_levels`` up and down channels and an
   adaptive step, plus a level code (``level_coding="crossing"``: a channel
   per value bin that spikes when the value enters the bin, or ``"rate"``: a
   rate-coded population of receptive fields, or ``"none"``).
2. **Network.** Every input channel drives one leaky integrate-and-fire
   neuron through a plastic synapse, as defined by the model file (default
   ``snn_models/habituation_lif.yaml``): the synapse depresses each time its
   input makes the neuron fire (STDP) and recovers between events, and every
   spike raises the neuron's threshold (homeostasis). Inputs that keep
   arriving in normal operation stop making the layer fire; rare ones still
   do. One row is one time step ``dt`` of the model.
3. **Fused read-out.** Per metric, the output spikes of its population in the
   row, divided by the most that can fire at once; fused over metrics by
   ``fusion`` ("max" or "mean"). The fused value is smoothed (``short_tau``)
   and compared with its own running mean and spread (``long_tau``):
   ``z = (smooth - mean) / max(spread, sigma_floor)`` and the score is
   ``1 - exp(-max(z, 0) / z_scale)``.

The network is built once in ``fit``; Brian2 generates its code for the
Cython target when a C compiler and Cython are present (compiled modules are
cached in :func:`~qnrecovery.neuromorphic.models.brian2_cache_dir`, never in
the working folder) and for numpy otherwise (``codegen_target``). A small
driver advances the generated code one row at a time, so a batch is one pass
over its rows and a streaming :meth:`~SpikingDetector.update` costs one step,
with no network rebuilt and no per-call set-up. Network snapshots
(``Network.store``/``restore``) keep the fitted state and the stream apart,
so :meth:`~SpikingDetector.score` never disturbs the stream.

Ablations: ``plasticity=False`` freezes the synapses (thresholds still adapt);
``use_network=False`` skips the network and reads out the encoder's own
spikes through the same read-out.

Examples
--------
>>> import numpy as np
>>> from qnrecovery.neuromorphic.detector import SpikingDetector
>>> rng = np.random.default_rng(0)
>>> detector = SpikingDetector(codegen_target="numpy")
>>> detector = detector.fit(rng.normal(size=(300, 2)))
>>> scores = detector.score(np.vstack([rng.normal(size=(20, 2)), [[12.0, 0.0]]]))
>>> bool(scores[-1] > scores[:-1].max())
True
"""

from __future__ import annotations

import logging
import math
import shutil
from typing import Any

import numpy as np
from brian2 import Quantity, ms, second

from qnrecovery.classical.detectors import _BaseDetector
from qnrecovery.exceptions import ConfigError, NotFittedError
from qnrecovery.neuromorphic.encoders import (
    LevelCrossingEncoder,
    RateEncoder,
    StepForwardEncoder,
    _check_positive,
)
from qnrecovery.neuromorphic.models import SNNModel, brian2_cache_dir, load_model

__all__ = ["SpikingDetector", "resolve_codegen_target"]

logger = logging.getLogger(__name__)

_TARGETS = ("auto", "cython", "numpy")
_LEVEL_CODINGS = ("crossing", "rate", "none")
_FUSIONS = ("max", "mean")


def resolve_codegen_target(target: str) -> str:
    """``"cython"`` or ``"numpy"`` for a ``codegen_target`` option.

    ``"auto"`` picks Cython when Cython imports and a C compiler (``cc`` or
    ``gcc``) is on the path, numpy otherwise.
    """
    if target not in _TARGETS:
        raise ConfigError(
            f"`codegen_target` of `SpikingDetector` must be one of "
            f"{', '.join(_TARGETS)}; got {target!r}."
        )
    if target != "auto":
        return target
    try:
        import Cython  # noqa: F401
    except ImportError:
        return "numpy"
    has_compiler = shutil.which("cc") or shutil.which("gcc")
    return "cython" if has_compiler else "numpy"


def _codeobj_class(target: str) -> type:
    if target == "cython":
        from brian2 import prefs
        from brian2.codegen.runtime.cython_rt import CythonCodeObject

        prefs.codegen.runtime.cython.cache_dir = str(brian2_cache_dir())
        return CythonCodeObject
    from brian2.codegen.runtime.numpy_rt import NumpyCodeObject

    return NumpyCodeObject


class _Network:
    """A built Brian2 network and the driver that steps it one row at a time."""

    def __init__(
        self,
        model: SNNModel,
        n_channels: int,
        channels_per_metric: int,
        namespace: dict[str, Any],
        *,
        plastic: bool,
        target: str,
    ) -> None:
        import brian2 as b2

        codeobj = _codeobj_class(target)
        clock = b2.Clock(dt=model.dt)
        common = {"clock": clock, "codeobj_class": codeobj, "namespace": namespace}
        self.source = b2.NeuronGroup(
            n_channels,
            model.input["equations"],
            threshold=model.input["threshold"],
            reset=model.input["reset"],
            **common,
        )
        self.layer = b2.NeuronGroup(
            n_channels,
            model.neurons["equations"],
            threshold=model.neurons["threshold"],
            reset=model.neurons["reset"],
            method=model.neurons.get("method", "exact"),
            **common,
        )
        # The layer fires after this row's input has arrived, so a row's
        # output spikes belong to that row.
        self.layer.thresholder["spike"].when = "after_synapses"
        self.layer.v = namespace.get("v_rest", 0.0)
        self.synapses = b2.Synapses(
            self.source,
            self.layer,
            model.synapses["model"],
            on_pre=model.synapses["on_pre"],
            on_post=model.synapses["on_post"],
            **common,
        )
        self.synapses.connect(j="i")
        self.synapses.w = model.synapses["initial_weight"]
        self.synapses.plastic = 1.0 if plastic else 0.0

        self.network = b2.Network(self.source, self.layer, self.synapses)
        self.channels_per_metric = channels_per_metric
        self._prepare(clock)

    def _prepare(self, clock: Any) -> None:
        """Generate the code once and keep the arrays the driver touches."""
        # As Network.run() does before its first step, without its garbage
        # collection (a large share of a short run's cost).
        self.network._clocks = {clock}
        clock.set_interval(0 * second, 0 * second)
        self.network.before_run({})
        self.objects = [obj for obj in self.network.sorted_objects if obj.active]

        variables = clock.variables
        self.timestep = variables["timestep"].get_value()
        self.t = variables["t"].get_value()
        self.dt = variables["dt"].get_value()
        self.drive = self.source.variables["drive"].get_value()
        self.spikespace = self.layer.variables["_spikespace"].get_value()

    def run(self, spikes: np.ndarray) -> np.ndarray:
        """Output spikes per metric of every row; ``spikes`` is ``(T, channels)``."""
        n_metrics = spikes.shape[1] // self.channels_per_metric
        counts = np.zeros((spikes.shape[0], n_metrics))
        drive, spikespace, objects = self.drive, self.spikespace, self.objects
        for row in range(spikes.shape[0]):
            drive[:] = spikes[row]
            for obj in objects:
                obj.run()
            self.timestep[0] += 1
            self.t[0] = self.timestep[0] * self.dt[0]
            fired = spikespace[: spikespace[-1]]
            if fired.size:
                counts[row] = np.bincount(
                    fired // self.channels_per_metric, minlength=n_metrics
                )
        # Network.store reads the network's own time, which only run() keeps.
        self.network.t_ = float(self.t[0])
        return counts


class SpikingDetector(_BaseDetector):
    """Anomaly scores from a habituating spiking network (Brian2).

    Parameters
    ----------
    model : str, default="habituation_lif"
        Name of the model file in ``snn_models/``.
    model_params : dict or None, default=None
        Overrides of the model's parameters, with units (``{"tau_m": 8*ms}``
        or ``{"tau_m": "8 ms"}``).
    n_levels : int, default=4
        Delta-code channels per direction and metric.
    step_factor : float, default=2.5
        Delta step as a multiple of the running mean absolute change.
    adapt_tau : Quantity (time), default=100*ms
        Time constant of that running mean (rows, with ``dt`` = 1 ms).
    level_coding : {"crossing", "rate", "none"}, default="crossing"
        The level code added to the delta code.
    n_bins : int, default=8
        Bins (crossing) or receptive fields (rate) of the level code.
    fusion : {"max", "mean"}, default="max"
        How the metric populations are fused.
    short_tau, long_tau : Quantity (time), default=2*ms, 5000*ms
        Time constants of the read-out's smoothing and of its running baseline.
    sigma_floor : float, default=0.05
        Smallest spread the read-out divides by.
    z_scale : float, default=3.0
        The ``z`` that maps to a score of ``1 - 1/e``.
    plasticity : bool, default=True
        Whether the synapses learn (ablation: False).
    use_network : bool, default=True
        Whether the network runs at all (ablation: False reads out the encoder).
    codegen_target : {"auto", "cython", "numpy"}, default="auto"
        Brian2 code generation target; "auto" uses Cython when it can compile.
    contamination : float, default=0.01
        Share of training rows expected to be anomalous; sets ``threshold_``.

    Attributes
    ----------
    n_features_in_ : int
    model_ : SNNModel
        The loaded model definition.
    codegen_target_ : str
        The target actually used ("cython" or "numpy").
    network_ : brian2.Network or None
        The built network (None when ``use_network`` is False).
    layer_ : brian2.NeuronGroup or None
        The LIF layer (``v``, adaptive threshold ``theta``).
    synapses_ : brian2.Synapses or None
        The plastic synapses (weights ``w``).
    decision_scores_ : ndarray of shape (n_train,)
        Scores of the training rows, from the untrained network.
    threshold_ : float
    labels_ : ndarray of shape (n_train,)
    """

    def __init__(
        self,
        *,
        model: str = "habituation_lif",
        model_params: dict[str, Any] | None = None,
        n_levels: int = 4,
        step_factor: float = 2.5,
        adapt_tau: Quantity = 100 * ms,
        level_coding: str = "crossing",
        n_bins: int = 8,
        fusion: str = "max",
        short_tau: Quantity = 2 * ms,
        long_tau: Quantity = 5000 * ms,
        sigma_floor: float = 0.05,
        z_scale: float = 3.0,
        plasticity: bool = True,
        use_network: bool = True,
        codegen_target: str = "auto",
        contamination: float = 0.01,
    ) -> None:
        self.model = model
        self.model_params = model_params
        self.n_levels = n_levels
        self.step_factor = step_factor
        self.adapt_tau = adapt_tau
        self.level_coding = level_coding
        self.n_bins = n_bins
        self.fusion = fusion
        self.short_tau = short_tau
        self.long_tau = long_tau
        self.sigma_floor = sigma_floor
        self.z_scale = z_scale
        self.plasticity = plasticity
        self.use_network = use_network
        self.codegen_target = codegen_target
        self.contamination = contamination

    # -- parameters ------------------------------------------------------------

    def _check_params(self) -> None:
        owner = type(self).__name__
        for name, allowed in (
            ("level_coding", _LEVEL_CODINGS),
            ("fusion", _FUSIONS),
        ):
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"`{name}` of `{owner}` must be one of {', '.join(allowed)}; "
                    f"got {getattr(self, name)!r}."
                )
        for name in ("sigma_floor", "z_scale"):
            _check_positive(getattr(self, name), name, owner)
        for name in ("plasticity", "use_network"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"`{name}` of `{owner}` must be True or False; "
                    f"got {getattr(self, name)!r}."
                )
        self.codegen_target_ = resolve_codegen_target(self.codegen_target)

    def _alpha(self, name: str, dt: Quantity) -> float:
        value = getattr(self, name)
        if (
            not isinstance(value, Quantity)
            or value.dim != second.dim
            or not value >= dt
        ):
            raise ConfigError(
                f"`{name}` of `{type(self).__name__}` must be a time of at least "
                f"dt ({dt!s}), such as 10*ms; got {value!r}."
            )
        return float(dt / value)

    # -- fitting -----------------------------------------------------------------

    def _fit(self, rows: np.ndarray) -> np.ndarray:
        self.model_ = load_model(self.model)
        namespace = self.model_.namespace(self.model_params)
        dt = self.model_.dt
        self.alphas_ = (self._alpha("short_tau", dt), self._alpha("long_tau", dt))

        self.encoders_: list[Any] = [
            StepForwardEncoder(
                n_levels=self.n_levels,
                step_factor=self.step_factor,
                adapt_tau=self.adapt_tau,
                dt=dt,
            )
        ]
        if self.level_coding == "crossing":
            self.encoders_.append(LevelCrossingEncoder(n_bins=self.n_bins))
        elif self.level_coding == "rate":
            self.encoders_.append(RateEncoder(n_fields=self.n_bins, dt=dt))
        start = [encoder.fit(rows) for encoder in self.encoders_]
        self.channels_per_metric_ = sum(e.channels for e in self.encoders_)
        self.max_active_ = float(self.n_levels) + (
            0 if self.level_coding == "none" else 1
        )
        if self.level_coding == "rate":
            self.max_active_ = float(self.n_levels + self.n_bins)

        self._net: _Network | None = None
        self.network_ = self.layer_ = self.synapses_ = None
        if self.use_network:
            self._net = _Network(
                self.model_,
                self.channels_per_metric_ * rows.shape[1],
                self.channels_per_metric_,
                namespace,
                plastic=self.plasticity,
                target=self.codegen_target_,
            )
            self.network_ = self._net.network
            self.layer_ = self._net.layer
            self.synapses_ = self._net.synapses
        self._live: str | None = "start"
        self._stored_stream: str | None = None
        self._tokens = 0

        state = {"encoders": start, "readout": (0.0, 0.0, 0.0), "network": "start"}
        train_scores, fitted = self._run(state, rows)
        if self._net is not None:
            self._net.network.store("fitted")
        self._live = "fitted"
        self.fitted_state_ = {**fitted, "network": "fitted"}
        logger.info(
            "SpikingDetector fitted on %d rows x %d metrics (%d channels, %s).",
            rows.shape[0],
            rows.shape[1],
            self.channels_per_metric_ * rows.shape[1],
            self.codegen_target_ if self.use_network else "no network",
        )
        return train_scores

    # -- streaming bookkeeping -----------------------------------------------------

    def _initial_state(self) -> dict[str, Any]:
        state = self.fitted_state_
        return {
            "encoders": [
                {k: v.copy() for k, v in s.items()} for s in state["encoders"]
            ],
            "readout": state["readout"],
            "network": "fitted",
        }

    def _load(self, token: str) -> None:
        """Put the network into the snapshot ``token`` names."""
        if self._net is None or self._live == token:
            self._live = token
            return
        stream = getattr(self, "state_", {}).get("network")
        if self._live is not None and self._live == stream:
            self._net.network.store("stream")
            self._stored_stream = self._live
        if token == "fitted":
            self._net.network.restore("fitted")
        elif token == self._stored_stream:
            self._net.network.restore("stream")
        else:
            raise NotFittedError(
                "The streaming state of this SpikingDetector was lost; call "
                "`reset()` or `fit` again."
            )
        self._live = token

    def _score_from(
        self, state: dict[str, Any], rows: np.ndarray
    ) -> tuple[np.ndarray, dict[str, Any]]:
        self._load(state["network"])
        return self._run(state, rows)

    # -- the computation ---------------------------------------------------------------

    def _run(
        self, state: dict[str, Any], rows: np.ndarray
    ) -> tuple[np.ndarray, dict[str, Any]]:
        parts, encoder_states = [], []
        for encoder, start in zip(self.encoders_, state["encoders"], strict=True):
            spikes, new = encoder.encode(rows, start)
            parts.append(spikes)
            encoder_states.append(new)
        spikes = np.concatenate(parts, axis=2)  # (T, D, channels per metric)

        if self._net is not None:
            counts = self._net.run(spikes.reshape(rows.shape[0], -1).astype(float))
        else:
            counts = spikes.sum(axis=2).astype(float)
        activity = np.minimum(counts / self.max_active_, 1.0)
        fused = activity.max(axis=1) if self.fusion == "max" else activity.mean(axis=1)
        scores, readout = self._readout(fused, state["readout"])

        self._tokens += 1
        token = f"run-{self._tokens}"
        self._live = token
        return scores, {
            "encoders": encoder_states,
            "readout": readout,
            "network": token,
        }

    def _readout(
        self, fused: np.ndarray, state: tuple[float, float, float]
    ) -> tuple[np.ndarray, tuple[float, float, float]]:
        """Smoothed activity against its running mean and spread, per row."""
        smooth, mean, var = state
        a_short, a_long = self.alphas_
        floor, scale = float(self.sigma_floor), float(self.z_scale)
        scores = np.empty(fused.shape[0])
        for t, value in enumerate(fused.tolist()):
            smooth += a_short * (value - smooth)
            z = (smooth - mean) / max(math.sqrt(var), floor)
            scores[t] = 1.0 - math.exp(-z / scale) if z > 0 else 0.0
            delta = smooth - mean
            mean += a_long * delta
            var = (1.0 - a_long) * (var + a_long * delta * delta)
        return scores, (smooth, mean, var)
