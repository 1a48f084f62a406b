"""Executable interpretability claims about models of modular addition and subtraction: this
project's MLP and 1-layer TransformerLens transformers (the pytest plugin is :mod:`interp.plugin`).

PYTEST_DONT_REWRITE: the plugin raises its own assertion errors, so pytest need not rewrite this
package; the marker also keeps an in-process pytest run (pytester) from warning that the
already-imported package cannot be rewritten, which ``filterwarnings = error`` would turn into a crash.
"""
