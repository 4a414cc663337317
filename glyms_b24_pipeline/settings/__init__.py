"""What the operator configures: the YAML settings and the client limits, read once per run, and the errors an operator can act on."""
