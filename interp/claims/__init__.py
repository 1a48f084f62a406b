"""The claims: ``claims.yaml`` read into claims (:mod:`interp.claims.load`, whose docstring is
the file's format), each expanded into cases, one per test (:mod:`interp.claims.claim`), and each
case judged on a run (:mod:`interp.claims.verdicts`).

A claim's ``metric`` names a function of :mod:`interp.metrics` (``metric: fve`` is ``def fve``), or
of :mod:`interp.metrics_causal` for the restricted and excluded losses (registered with the rest).
"""
