"""Loaders for the telemetry, incident and topology data sets, and bundled samples.

- :func:`load_servers` — ASD / SMD multivariate server metrics (``.npz``).
- :func:`load_nab` — Numenta Anomaly Benchmark series and windows (CSV + JSON).
- :func:`load_ai4i` — the AI4I 2020 predictive-maintenance table (CSV).
- :func:`load_topology` — Topology Zoo networks (GraphML) with link latencies.
- :func:`load_telemetry` — one entry point that turns either telemetry format
  into a list of :class:`ServerMetrics`.
- ``sample_*`` — small real samples shipped with the package.

All loaders take paths from the caller and raise
:class:`~qnrecovery.exceptions.DataError` for missing or malformed input.
"""

from __future__ import annotations

import math
import os

from qnrecovery.data._common import as_existing_path, label_runs
from qnrecovery.data.ai4i import AI4I_FEATURES, AI4I_MODES, Ai4iData, load_ai4i
from qnrecovery.data.nab import (
    Dedupe,
    NabSeries,
    load_nab,
    load_nab_series,
    read_nab_windows,
)
from qnrecovery.data.samples import (
    SAMPLE_SERVERS,
    sample_nab,
    sample_path,
    sample_servers,
    sample_topology,
)
from qnrecovery.data.servers import (
    NanPolicy,
    ServerMetrics,
    load_server_metrics,
    load_servers,
)
from qnrecovery.data.topology import collapse_parallel, haversine_km, load_topology
from qnrecovery.exceptions import DataError

__all__ = [
    "AI4I_FEATURES",
    "AI4I_MODES",
    "NAB_PROBATIONARY_FRACTION",
    "SAMPLE_SERVERS",
    "Ai4iData",
    "NabSeries",
    "NanPolicy",
    "ServerMetrics",
    "collapse_parallel",
    "haversine_km",
    "load_ai4i",
    "load_nab",
    "load_nab_series",
    "load_server_metrics",
    "load_servers",
    "load_telemetry",
    "load_topology",
    "nab_to_server_metrics",
    "read_nab_windows",
    "sample_nab",
    "sample_path",
    "sample_servers",
    "sample_topology",
]

#: Share of each NAB series that NAB treats as its probationary period.
NAB_PROBATIONARY_FRACTION = 0.15


def nab_to_server_metrics(
    series: NabSeries, train_fraction: float = NAB_PROBATIONARY_FRACTION
) -> ServerMetrics:
    """View a NAB series as a one-metric :class:`ServerMetrics`.

    Parameters
    ----------
    series : NabSeries
        The series to convert.
    train_fraction : float, default=0.15
        Share of the rows, taken from the start, that becomes ``train``: NAB's
        probationary period. (NAB's scorer also caps that period at 750 rows;
        this split does not.)

    Returns
    -------
    ServerMetrics
        ``train`` the first ``floor(train_fraction * n)`` rows, ``test`` the
        rest, each of shape (rows, 1); ``test_label`` from the windows;
        ``segments`` the runs of ``test_label == 1`` (indices into ``test``);
        ``interval_s`` the median time step.

    Raises
    ------
    DataError
        If the split would leave ``train`` or ``test`` empty.
    """
    n = series.values.shape[0]
    n_train = math.floor(train_fraction * n)
    if not 0 < n_train < n:
        raise DataError(
            f"NAB series {series.name!r} has {n} rows; a train_fraction of "
            f"{train_fraction} leaves train or test empty."
        )
    values = series.values.reshape(-1, 1)
    test_label = series.labels[n_train:].copy()
    return ServerMetrics(
        name=series.name,
        train=values[:n_train].copy(),
        test=values[n_train:].copy(),
        test_label=test_label,
        segments=label_runs(test_label),
        interval_s=series.interval_s,
        source=series.source,
    )


def load_telemetry(
    path: str | os.PathLike[str],
    *,
    nan_policy: NanPolicy = "raise",
    sort: bool = True,
    dedupe: Dedupe | None = "last",
    train_fraction: float = NAB_PROBATIONARY_FRACTION,
) -> list[ServerMetrics]:
    """Load server telemetry in either supported format as ServerMetrics.

    Parameters
    ----------
    path : str or os.PathLike
        An ASD/SMD ``.npz`` file or a folder of them; or a NAB CSV file, a
        NAB category folder of CSV files, or a NAB root folder (with ``data/``
        and ``labels/``).
    nan_policy : {"raise", "ffill"}, default="raise"
        For ``.npz`` input; see :func:`load_server_metrics`.
    sort : bool, default=True
        For NAB input; see :func:`load_nab_series`. True here because two of
        NAB's own series repeat timestamps out of order.
    dedupe : {"first", "last"} or None, default="last"
        For NAB input; see :func:`load_nab_series`.
    train_fraction : float, default=0.15
        For NAB input; see :func:`nab_to_server_metrics`.

    Returns
    -------
    list of ServerMetrics
        One per server or per NAB series (NAB series have one metric).

    Raises
    ------
    DataError
        If the path does not exist or holds no supported data, or a file fails
        to load.
    """
    p = as_existing_path(path, "telemetry path")
    if p.is_dir():
        if any(p.glob("*.npz")):
            return load_servers(p, nan_policy=nan_policy)
        csv_files = sorted(p.glob("*.csv"))
        if csv_files:
            # A NAB category folder: each CSV finds its windows two levels up.
            series = [
                s for f in csv_files for s in load_nab(f, sort=sort, dedupe=dedupe)
            ]
            return [nab_to_server_metrics(s, train_fraction) for s in series]
        is_nab = (p / "data").is_dir()
    else:
        if p.suffix.lower() == ".npz":
            return load_servers(p, nan_policy=nan_policy)
        is_nab = p.suffix.lower() == ".csv"
    if not is_nab:
        raise DataError(
            f"{str(p)!r} is neither an .npz file, a folder of .npz files, a NAB "
            "CSV file or folder of them, nor a NAB root folder (with data/ and "
            "labels/)."
        )
    series = load_nab(p, sort=sort, dedupe=dedupe)
    return [nab_to_server_metrics(s, train_fraction) for s in series]
