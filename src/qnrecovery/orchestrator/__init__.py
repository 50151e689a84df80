"""Orchestrator: tiers, planner, failure detection and the recovery engine."""
