"""The Ray cluster the runtime places replicas on, and node-level faults.

:class:`RayCluster` either starts a local cluster of simulated nodes
(:class:`ray.cluster_utils.Cluster`: one head that holds nothing but the
driver, plus ``nodes`` worker nodes on this machine) or connects to an
existing one by address. Each usable node is a logical *host*; the placer's
host assignment is mapped to Ray nodes through a custom resource per host
(``qnr_host_<name>``) where the node has one, else through node-affinity
scheduling on the node's id.

Node faults exist only on a local cluster, whose processes this machine owns:
graceful removal (Ray is told), hard removal (SIGKILL to the node's raylet and
every worker process under it, the way a host that loses power disappears)
and pause / resume (SIGSTOP / SIGCONT to the same processes: a host that
stops answering and later comes back).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from qnrecovery.exceptions import ConfigError, RuntimeFailure
from qnrecovery.ray_runtime._extra import require_ray

__all__ = ["HOST_RESOURCE_PREFIX", "RayCluster", "RayHost"]

logger = logging.getLogger(__name__)

#: Custom resource a node carries to be host ``<name>``: ``qnr_host_<name>``.
HOST_RESOURCE_PREFIX = "qnr_host_"

_MB = 1024 * 1024


@dataclass
class RayHost:
    """One logical host and the Ray node behind it.

    Attributes
    ----------
    name : str
        Host name used by the placer.
    node_id : str
        Ray node id (hex).
    resource : str or None
        The custom resource that pins actors to this node, if it has one.
    alive : bool
        False once the host was removed.
    """

    name: str
    node_id: str
    resource: str | None = None
    alive: bool = True
    paused: bool = False
    node: Any = field(default=None, repr=False)


class RayCluster:
    """A started or connected Ray cluster, seen as logical hosts.

    Use :meth:`local` or :meth:`connect`; both return a cluster that must be
    closed with :meth:`shutdown` (or used as a context manager).
    """

    def __init__(self) -> None:
        self.hosts: dict[str, RayHost] = {}
        self.simulated = False
        self.address: str | None = None
        self._cluster: Any = None
        self._next = 0
        self._node_args: dict[str, Any] = {}

    # -- construction ----------------------------------------------------------

    @classmethod
    def local(
        cls,
        nodes: int = 3,
        *,
        num_cpus: int = 1,
        object_store_mb: int = 100,
    ) -> RayCluster:
        """Start a local cluster of `nodes` simulated nodes and connect to it.

        Parameters
        ----------
        nodes : int, default=3
            Worker nodes, each a logical host ``n1``, ``n2``, ...
        num_cpus : int, default=1
            CPUs each node advertises (replicas ask for none).
        object_store_mb : int, default=100
            Object store memory per node, in MiB (Ray's minimum is 75).

        Raises
        ------
        ConfigError
            If Ray is not installed or an argument is out of range.
        """
        if not 1 <= nodes <= 16:
            raise ConfigError(f"nodes must be in 1..16; got {nodes}")
        if object_store_mb < 75:
            raise ConfigError(
                f"object_store_mb must be at least 75 (Ray's minimum); got "
                f"{object_store_mb}"
            )
        ray = require_ray()
        from ray.cluster_utils import Cluster

        self = cls()
        self.simulated = True
        store = object_store_mb * _MB
        self._node_args = {"num_cpus": num_cpus, "object_store_memory": store}
        head = {"num_cpus": 0, "object_store_memory": store, "include_dashboard": False}
        self._cluster = Cluster(initialize_head=True, head_node_args=head)
        try:
            for _ in range(nodes):
                self.add_node()
            self._cluster.wait_for_nodes()
            ray.init(
                address=self._cluster.address,
                logging_level="ERROR",
                log_to_driver=False,
            )
            self.address = self._cluster.address
        except BaseException:
            self.shutdown()
            raise
        return self

    @classmethod
    def connect(cls, address: str) -> RayCluster:
        """Connect to the existing cluster at `address` (``auto`` works).

        Every alive node that advertises CPUs or a ``qnr_host_*`` resource
        becomes a host, named after that resource or ``node-<id prefix>``.

        Raises
        ------
        ConfigError
            If Ray is not installed.
        RuntimeFailure
            If the cluster cannot be reached or has fewer than two nodes.
        """
        ray = require_ray()
        self = cls()
        self.address = address
        try:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        except Exception as err:
            raise RuntimeFailure(
                f"cannot connect to the Ray cluster at {address!r}: {err}. Check "
                "the address (ray status prints it) or omit --address to start a "
                "local cluster"
            ) from err
        for info in ray.nodes():
            if not info.get("Alive"):
                continue
            resources = info.get("Resources", {})
            named = [r for r in resources if r.startswith(HOST_RESOURCE_PREFIX)]
            if not named and not resources.get("CPU"):
                continue
            node_id = info["NodeID"]
            name = (
                named[0][len(HOST_RESOURCE_PREFIX) :]
                if named
                else f"node-{node_id[:8]}"
            )
            self.hosts[name] = RayHost(name, node_id, named[0] if named else None)
        if len(self.hosts) < 2:
            self.shutdown()
            raise RuntimeFailure(
                f"the Ray cluster at {address!r} has {len(self.hosts)} usable "
                "node(s); standbys need at least two nodes"
            )
        return self

    def __enter__(self) -> RayCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Disconnect, and stop the local cluster if this object started it."""
        import ray

        with contextlib.suppress(Exception):
            ray.shutdown()
        if self._cluster is not None:
            for host in self.hosts.values():
                if host.node is not None and host.paused:
                    _signal_all(_node_pids(host.node), signal.SIGCONT)
            with contextlib.suppress(Exception):
                self._cluster.shutdown()
            self._cluster = None

    # -- hosts -----------------------------------------------------------------

    def alive_hosts(self) -> list[str]:
        """Names of the hosts not removed."""
        return [name for name, host in self.hosts.items() if host.alive]

    def placement(self, host: str) -> dict[str, Any]:
        """Actor options that pin an actor to `host`'s node."""
        info = self._host(host)
        if info.resource is not None:
            return {"resources": {info.resource: 0.001}}
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        strategy = NodeAffinitySchedulingStrategy(node_id=info.node_id, soft=False)
        return {"scheduling_strategy": strategy}

    def add_node(self) -> str:
        """Add a simulated node as a new host; returns its name.

        Call it from the main thread (Ray installs signal handlers there).
        """
        self._local_only("adding a node")
        self._next += 1
        name = f"n{self._next}"
        resource = f"{HOST_RESOURCE_PREFIX}{name}"
        node = self._cluster.add_node(**self._node_args, resources={resource: 1})
        self.hosts[name] = RayHost(name, node.node_id, resource, node=node)
        return name

    def wait_for_nodes(self, timeout: float = 60.0) -> None:
        """Wait until every added node registered with the cluster."""
        if self._cluster is not None:
            self._cluster.wait_for_nodes(timeout=timeout)

    # -- node faults -------------------------------------------------------------

    def remove_node(self, host: str, *, graceful: bool) -> None:
        """Remove `host`'s node: gracefully, or by SIGKILL to all its processes."""
        info = self._host(host)
        self._local_only("removing a node")
        info.alive = False
        if not graceful:
            _signal_all(_node_pids(info.node, workers_first=True), signal.SIGKILL)
        self._cluster.remove_node(info.node, allow_graceful=graceful)

    def pause_node(self, host: str) -> list[int]:
        """SIGSTOP every process of `host`'s node; returns the pids."""
        info = self._host(host)
        self._local_only("pausing a node")
        pids = _node_pids(info.node, workers_first=True)
        _signal_all(pids, signal.SIGSTOP)
        info.alive, info.paused = False, True
        return pids

    def resume_node(self, host: str) -> None:
        """SIGCONT every process of a paused `host`."""
        info = self._host(host)
        self._local_only("resuming a node")
        _signal_all(_node_pids(info.node), signal.SIGCONT)
        info.alive, info.paused = True, False

    def node_declared_dead(self, host: str) -> bool:
        """Whether Ray's control plane lists `host`'s node as dead."""
        import ray

        node_id = self._host(host).node_id
        for info in ray.nodes():
            if info["NodeID"] == node_id:
                return not info.get("Alive", False)
        return False

    def wait_declared_dead(self, host: str, timeout: float) -> float | None:
        """Seconds until Ray declares `host` dead, or None within `timeout`."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.node_declared_dead(host):
                return time.monotonic() - start
            time.sleep(0.1)
        return None

    def _host(self, host: str) -> RayHost:
        try:
            return self.hosts[host]
        except KeyError:
            raise ConfigError(
                f"no host {host!r}; hosts are {sorted(self.hosts)}"
            ) from None

    def _local_only(self, what: str) -> None:
        if self._cluster is None:
            raise ConfigError(
                f"{what} needs a local cluster started by qnrecovery; on a cluster "
                "given by --address only replica kills are injected"
            )


def _children(pid: int) -> list[int]:
    """Child pids of `pid`, read from /proc."""
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                kids.extend(int(p) for p in fh.read().split())
    return kids


def _node_pids(node: Any, *, workers_first: bool = False) -> list[int]:
    """The raylet of a simulated node and every process below it."""
    raylet = node.all_processes["raylet"][0].process.pid
    found: list[int] = []
    todo = [raylet]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(_children(pid))
    workers = found[1:]
    return [*workers, raylet] if workers_first else [raylet, *workers]


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
