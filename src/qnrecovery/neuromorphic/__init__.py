"""Spiking-network backends (Brian2)."""
