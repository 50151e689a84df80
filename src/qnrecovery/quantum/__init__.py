"""Quantum backends (Qiskit on Aer)."""
