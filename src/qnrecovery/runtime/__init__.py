"""Real managed components: worker processes, router, client load, faults."""
