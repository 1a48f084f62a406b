"""What a :class:`interp.run.Run` derives from its one forward pass and its weights, one group of
the metrics' inputs per module, each a mixin of :class:`interp.run.Run` (the metrics read these
by attribute name, so they stay attributes of the run):

* :mod:`interp.views.weights`: the weights in the Fourier basis, and the key frequencies;
* :mod:`interp.views.logits`: the logits, predictions, correct logits, Nanda et al.'s trig
  components and the clock projection (the causal losses);
* :mod:`interp.views.spectra`: 2D Fourier spectra of the activations and logits (full maps, for
  figures), the readout spectra (``fve``) and each neuron's frequency shares.

Each reads only the run's core (:mod:`interp.run`: ``model``, ``p``, ``device``, the hooks and
streamed terms of the one forward pass, ``labels``, ``splits``) and the other views.
"""
