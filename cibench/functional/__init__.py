"""The functional suite: probe a server's capabilities, run YAML cases, check the answers."""
