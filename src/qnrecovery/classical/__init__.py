"""Classical baselines for every backend kind."""
