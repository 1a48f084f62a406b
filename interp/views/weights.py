"""A run's weights in the Fourier basis, and its key frequencies: nothing here needs the forward
pass (see :mod:`interp.views`)."""

from __future__ import annotations

from functools import cached_property

from jaxtyping import Float
from torch import Tensor

from interp import keyfreqs
from interp.fourier import fourier_basis


class WeightViews:
    """Mixed into :class:`interp.run.Run`: reads its ``model``, ``p`` and ``given_key_freqs``."""

    @cached_property
    def basis(self) -> Float[Tensor, "p p"]:
        return fourier_basis(self.p, self.model.readout.dtype)

    @cached_property
    def readout(self) -> Float[Tensor, "d_mlp p"]:
        """What each neuron adds to each logit: ``W_U`` (MLP), ``W_out @ W_U`` (transformer)."""
        return self.model.readout

    @cached_property
    def readout_fourier(self) -> Float[Tensor, "d_mlp p"]:
        """``US = readout @ F.T``: the readout's output axis in the Fourier basis."""
        return self.readout @ self.basis.T

    @cached_property
    def wneur_fourier(self) -> Float[Tensor, "p d_mlp"] | None:
        """``F @ W_neur``, the token-to-neuron map in the Fourier basis; None where the model has
        no such map (a transformer: attention sits between the embedding and the neurons)."""
        w_neur = self.model.W_neur
        return None if w_neur is None else self.basis @ w_neur

    @cached_property
    def token_map_fourier(self) -> Float[Tensor, "p d"] | None:
        """``F @ token_map``: where the model looks numbers up (``W_E @ W_in`` for the MLP, ``W_E``
        for a transformer), token axis in the Fourier basis; None where the model has none."""
        token_map = self.model.token_map
        return None if token_map is None else self.basis @ token_map

    @cached_property
    def embedding_fourier(self) -> Float[Tensor, "p d_model"] | None:
        """``F @ W_E`` over the number tokens: the embedding's token axis in the Fourier basis;
        None where the model has no learned embedding (one-hot inputs)."""
        embedding = self.model.embedding
        return None if embedding is None else self.basis @ embedding

    @cached_property
    def key_freqs(self) -> list[int]:
        """The given key frequencies, else the readout's by :mod:`interp.keyfreqs`' rule."""
        if self.given_key_freqs is not None:
            return list(self.given_key_freqs)
        return keyfreqs.key_frequencies(self.readout_fourier.T)

    @property
    def key_freqs_source(self) -> str:
        return "auto" if self.given_key_freqs is None else "given"
