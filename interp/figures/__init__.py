"""Figures a person can look at: the notebook's evidence, per checkpoint, as PNG files, and an
``index.html`` with a table of contents, captions and every claim's verdict
(``pytest --claims-figures DIR``).

All numbers come from the cached :class:`interp.run.Run` (nothing re-runs the model) and from the
claims' rows. matplotlib is an optional extra: ``pip install "interp-claims[figures]"``.

Per checkpoint, ``DIR/<checkpoint>/`` holds the figures of :data:`interp.figures.common.FIGURES`
that apply to its architecture (``wneur.png`` only where the model has a token-to-neuron map
``W_E W_in``, i.e. the MLP; ``fve.png`` only where the claims file has an ``fve`` claim).
``DIR/sweep.png`` plots each claim against the epoch over two or more checkpoints.
``DIR/index.html`` links all of it, with anchors: ``#<checkpoint>`` per checkpoint,
``#<checkpoint>-<figure>`` per figure, ``#sweep``.

* :mod:`interp.figures.common`: the list of figures, their titles and captions; matplotlib; PNG files.
* :mod:`interp.figures.per_checkpoint`: one checkpoint's figures (:func:`render_checkpoint`).
* :mod:`interp.figures.sweep`: each claim against the epoch over a sweep (:func:`render_sweep`).
* :mod:`interp.figures.page`: ``index.html`` (:func:`render_index`), which draws the sweep too.
* :mod:`interp.figures.trajectories`: claims over training time in the population
  (:func:`render_trajectories`; ``docs/claims-over-training.png``).
"""
