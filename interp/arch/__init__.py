"""One module per architecture (see :mod:`interp.arch.common` for what each provides)."""
