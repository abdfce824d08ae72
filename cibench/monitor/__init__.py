"""Resource monitoring while load runs: client, server process tree, GPU, server gauges."""
