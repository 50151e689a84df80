"""Small real data samples shipped inside the package.

``samples/`` holds ASD servers omi-1 to omi-5, the NAB ``realKnownCause``
series with their windows, and the Topology Zoo ``Abilene`` network, each with
its licence and a ``SOURCE.md`` naming its origin.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from qnrecovery.data.nab import NabSeries, load_nab
from qnrecovery.data.servers import ServerMetrics, load_server_metrics
from qnrecovery.exceptions import DataError

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "SAMPLE_SERVERS",
    "sample_nab",
    "sample_path",
    "sample_servers",
    "sample_topology",
]

#: Names of the bundled ASD servers.
SAMPLE_SERVERS = ("omi-1", "omi-2", "omi-3", "omi-4", "omi-5")


def sample_path(*parts: str) -> Path:
    """Path of a bundled sample file or folder.

    Parameters
    ----------
    *parts : str
        Path components below ``samples/``, e.g. ``("asd", "omi-1.npz")``; none
        gives the ``samples`` folder itself.

    Returns
    -------
    pathlib.Path
        A path on the file system.

    Raises
    ------
    DataError
        If nothing is bundled under that name, or the package is not installed
        as plain files (e.g. imported from a zip archive).
    """
    root = files("qnrecovery.data") / "samples"
    target = root.joinpath(*parts) if parts else root
    if not isinstance(target, Path):
        raise DataError(
            "the bundled samples are not plain files (is qnrecovery imported "
            "from a zip?); install the package into a regular environment."
        )
    if not target.exists():
        raise DataError(
            f"no bundled sample at {'/'.join(parts)!r}; see the folders asd, nab "
            "and topology_zoo under qnrecovery/data/samples."
        )
    return target


def sample_servers(names: Iterable[str] | None = None) -> list[ServerMetrics]:
    """Load bundled ASD servers.

    Parameters
    ----------
    names : iterable of str, optional
        Which of ``SAMPLE_SERVERS`` to load, in the order given; all by default.

    Returns
    -------
    list of ServerMetrics
        19 metrics every 300 s, segments from the interpretation labels.

    Raises
    ------
    DataError
        If a name is not one of ``SAMPLE_SERVERS``.
    """
    chosen = list(SAMPLE_SERVERS if names is None else names)
    unknown = [n for n in chosen if n not in SAMPLE_SERVERS]
    if unknown:
        raise DataError(
            f"no bundled ASD server named {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(SAMPLE_SERVERS)}."
        )
    return [load_server_metrics(sample_path("asd", f"{n}.npz")) for n in chosen]


def sample_nab() -> list[NabSeries]:
    """Load the bundled NAB ``realKnownCause`` series with their windows.

    Two of the series repeat timestamps as published, so they are loaded with
    ``sort=True, dedupe="last"`` (see :func:`~qnrecovery.data.load_nab_series`).

    Returns
    -------
    list of NabSeries
        The seven series, ordered by name.
    """
    return load_nab(sample_path("nab"), sort=True, dedupe="last")


def sample_topology() -> nx.MultiGraph:
    """Load the bundled Abilene network with ``latency_ms`` on every edge.

    Returns
    -------
    networkx.MultiGraph
        11 nodes and 14 edges, as :func:`~qnrecovery.data.load_topology` builds it.
    """
    from qnrecovery.data.topology import load_topology

    return load_topology(sample_path("topology_zoo", "Abilene.graphml"))
