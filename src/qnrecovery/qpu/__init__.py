"""Real quantum hardware: IBM Quantum and D-Wave targets, checked offline.

Submodules
----------
specs
    The grammar of quantum and annealing target strings (no heavy import).
credentials
    Where tokens come from, whether the ``qpu`` extra is installed, redaction.
ibm
    IBM Quantum: the runtime service, ISA transpilation, sampler jobs in a
    batch or session with error-suppression options.
dwave
    D-Wave: :func:`~qnrecovery.qpu.dwave.annealing_sampler` for ``neal``,
    ``structured:<graph>``, ``dwave:<solver>`` and ``dwave-hybrid``.
fallback
    :func:`~qnrecovery.qpu.fallback.run_with_fallback`: fail loudly or fall
    back to a local simulator when a hardware job fails or times out.
check
    The offline validation behind ``qnrecovery backends --check``.

Importing this package loads no Qiskit or Ocean module.
"""
