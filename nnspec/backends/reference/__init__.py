"""backends.reference: Plan -> Executable in plain NumPy float64, the executable definition
of every op and the oracle the compiled backends are tested against."""
