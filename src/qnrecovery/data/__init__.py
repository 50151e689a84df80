"""Loaders for the telemetry, incident and topology data sets, and bundled samples."""
