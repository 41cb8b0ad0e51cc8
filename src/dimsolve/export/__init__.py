"""The front door: wires tracing, spec parsing and the solver together."""
