"""Independent re-implementations of the field's published models, written from the facts of each
code base (issue 15), never from this project's readers: the forward pass each code base runs,
its initialisation, and writers that save files exactly as that code base saves them.

Tests compare this project's readers with these forwards over all pairs; ``calibration/`` trains
its Zhong-style population with them. One module per code base.
"""
