"""Placement by simulated annealing (D-Wave Ocean)."""
