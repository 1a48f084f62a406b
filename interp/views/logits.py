"""A run's logits: over all pairs or a split's (streamed), the predictions, the correct logit
per pair, the task hint, Nanda et al.'s trig components (the causal losses) and the clock
projection (see :mod:`interp.views`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp import memory
from interp.data import TASKS, all_pairs, labels


class LogitViews:
    """Mixed into :class:`interp.run.Run`: reads its forward pass, ``labels``, ``splits`` and
    ``key_freqs``."""

    @property
    def logits(self) -> Float[Tensor, "pair p"]:
        """The logits over all pairs (computed on each access; ``[p*p, p]`` is 4 GB at p = 1009, so
        metrics use the streamed summaries instead)."""
        return self.logits_of(self.splits["all"])

    def logits_of(self, idx: Int[Tensor, " n"]) -> Float[Tensor, "n p"]:
        """Logits of the pairs ``idx`` only (a forward pass over them)."""
        return self.forward(idx)["logits"]
    @property
    def predictions(self) -> Int[Tensor, " pair"]:
        """``argmax(logits)`` per pair."""
        return self._pass["predictions"]

    def task_hint(self) -> str:
        """A hint when the test accuracy is near 0 for this task but near 1 for another one (the
        checkpoint was probably trained on that task); else ``""``. Never changes the task."""
        test = self.splits["test"]
        mine = (self.predictions[test] == self.labels[test]).double().mean().item()
        for task in TASKS:
            theirs = (self.predictions[test] == labels(all_pairs(self.p), self.p, task)[test]).double().mean().item()
            if task != self.task and mine < 0.1 and theirs > 0.9:
                return (f"test accuracy under task {task!r} is {theirs:.3f}: was it trained on {task}? "
                        f"(gate it with --task {task})")
        return self.input_form_hint(mine)

    def input_form_hint(self, mine: float) -> str:
        """A hint when the test accuracy misses 1 but the other input form (``[a, b]`` against
        ``[a, b, =]``, where the weights allow both) scores at least 0.99 and better; else ``""``.
        Never changes the input form."""
        form = getattr(self.model, "input_form", None)
        if form is None or mine >= 1.0:
            return ""
        other = "a,b" if form == "a,b,=" else "a,b,="
        if other == "a,b,=" and self.model.W_pos.shape[0] < 3:
            return ""
        from dataclasses import replace

        from interp.model import forward

        test = self.splits["test"]
        with torch.no_grad():
            logits = forward(replace(self._m, input_form=other), all_pairs(self.p)[test].to(self.device))["logits"]
        theirs = (logits.argmax(-1).cpu() == self.labels[test]).double().mean().item()
        if theirs >= 0.99 and theirs > mine:
            return (f"test accuracy fed [{other}] is {theirs:.4f}: was it trained on that input? "
                    f"(gate it with --input-form={other})")
        return ""

    @cached_property
    def split_logits(self) -> SplitLogits:
        """Lazy ``{split: logits of that split's pairs}``, computed on access, not kept."""
        return SplitLogits(self)

    @property
    def correct_logits(self) -> Float[Tensor, " pair"]:
        """The logit of the correct class (the task's answer), per pair (float64)."""
        return self._pass["correct"]

    @property
    def largest_wrong_logits(self) -> Float[Tensor, " pair"]:
        """The largest logit of a wrong class, per pair (float64): what Zhong et al.'s training
        script reads for the distance irrelevance it logs (their published column)."""
        return self._pass["largest_wrong"]

    @cached_property
    def trig_directions(self) -> Float[Tensor, "d y"]:
        """Nanda et al.'s directions over the ``p*p`` pairs, as functions of the task's answer ``y``
        (``a + b`` or ``a - b`` mod p; their code's ``get_component_cos_xpy`` / ``_sin_xpy``): for
        each key frequency k, in order, the unit vectors ``u_k = cos(w_k y) / ||.||`` and
        ``v_k = sin(w_k y) / ||.||``, norms over the pairs. Each ``y`` is the answer of ``p`` pairs,
        so row ``r`` at ``y`` is ``t(w_k y) / sqrt(p sum_y' t(w_k y')^2)`` (``p^2 / 2`` under the root
        for ``2k != p``). For even p the Nyquist ``k = p/2`` has ``u`` alone, ``cos(pi y) / p``: its
        sine is zero everywhere (their code would divide by that zero norm). Float64."""
        p = self.p
        y = torch.arange(p, dtype=torch.float64)
        rows = []
        for k in self.key_freqs:
            for trig in (torch.cos, torch.sin):
                if 2 * k == p and trig is torch.sin:
                    continue  # the Nyquist sine, sin(pi y) = 0: no direction
                values = trig(2 * torch.pi * k / p * y)
                rows.append(values / (p * values.pow(2).sum()).sqrt())
        return torch.stack(rows) if rows else torch.zeros(0, p, dtype=torch.float64)

    @cached_property
    def trig_coefficients(self) -> Float[Tensor, "d c"]:
        """The logits' coefficient on each of :attr:`trig_directions`, one per class ``c``:
        ``<u, L[:, c]> = sum_pairs u(pair) L[pair, c] = sum_y u(y) S[y, c]``, with ``S[y, c]`` the
        logits summed over the pairs whose answer is ``y`` (kept by the one forward pass, in float64).
        ``2p`` numbers per key frequency, ``p`` at an even p's Nyquist."""
        return self.trig_directions @ self._pass["by_answer"]

    @cached_property
    def trig_components(self) -> Float[Tensor, "y c"]:
        """The logits' components on the key frequencies' ``cos/sin(w_k y)`` directions,
        ``sum_k u_k (u_k^T L) + v_k (v_k^T L)`` (Nanda et al.'s ``get_components_of_trig_loss``
        summed over the key frequencies). Their directions depend on a pair only through its
        answer ``y``, so the ``[p*p, p]`` matrix is a ``[y, c]`` table (read ``[labels]`` for the
        pairs): ``directions^T @ coefficients`` (float64)."""
        return self.trig_directions.T @ self.trig_coefficients

    @cached_property
    def mean_logits(self) -> Float[Tensor, " c"]:
        """The logits' mean over all ``p*p`` pairs, per class (float64)."""
        return self._pass["by_answer"].sum(0) / self.p ** 2

    @cached_property
    def clock_projection(self) -> Float[Tensor, "y c"]:
        """The clock form (the ``clock-*`` causal claims; narrower than :attr:`trig_components`,
        Nanda et al.'s): the logits projected onto the unit directions ``cos(w_k(y - c))`` and
        ``sin(w_k(y - c))``, k in the key frequencies, over all pairs and classes, with ``y`` the
        task's answer (``a + b`` or ``a - b`` mod p), two numbers per frequency. Those directions
        depend on the pair only through ``y``, so the projection is a ``[y, c]`` table:
        ``R = sum_D <logits, D> / ||D||^2 * D`` (float64). For even p the Nyquist ``k = p/2`` has
        the one direction ``cos(pi(y - c))`` (its sine is zero everywhere and is left out)."""
        p = self.p
        by_answer = self._pass["by_answer"]
        x = torch.arange(p, dtype=torch.float64)
        diff = x[:, None] - x[None, :]
        table = torch.zeros(p, p, dtype=torch.float64)
        for k in self.key_freqs:
            for trig in (torch.cos, torch.sin):
                direction = trig(2 * torch.pi * k / p * diff)
                if 2 * k == p and trig is torch.sin:
                    continue  # the Nyquist sine, sin(pi n) = 0: no direction
                # each y is hit by p pairs, so ||D||^2 over pairs and classes is p * sum(direction^2)
                table += (by_answer * direction).sum() / (p * direction.pow(2).sum()) * direction
        return table


class SplitLogits(Mapping[str, Tensor]):
    """Lazy ``{split: logits of its pairs}``; see :attr:`interp.run.Run.split_logits`. A split
    whose pairs the one forward pass kept (:attr:`interp.run.Run.kept_pairs`: the training split)
    is read from what it kept, and no pair goes through the model again; any other split is a
    forward pass over its pairs."""

    def __init__(self, run) -> None:  # the interp.run.Run it belongs to
        self._run = run

    def __getitem__(self, split: str) -> Float[Tensor, "n p"]:
        return torch.cat([logits for _, logits in self.chunks(split)])

    def chunks(self, split: str) -> Iterator[tuple[Int[Tensor, " n"], Float[Tensor, "n p"]]]:
        """``(pair indices, their logits)`` over the split, :data:`memory.CHUNK` logits at a time:
        slices of what the one pass kept where the split is the kept pairs (in their increasing
        order), rows of it where the split is among them, else a forward pass over each chunk."""
        run = self._run
        idx, step = run.splits[split], max(1, memory.CHUNK // run.p)
        kept, logits = run.kept_pairs, run._pass["kept_logits"]
        with memory.freed_blocks_reused():  # what the reader allocates per chunk, too
            if torch.equal(idx.sort().values, kept):  # the kept pairs themselves, in another order: views
                for start in range(0, len(kept), step):
                    yield kept[start : start + step], logits[start : start + step]
                return
            where = torch.searchsorted(kept, idx).clamp(max=max(len(kept) - 1, 0))
            among = len(kept) > 0 and torch.equal(kept[where], idx)
            for start in range(0, len(idx), step):
                part = idx[start : start + step]
                yield part, logits[where[start : start + step]] if among else run.logits_of(part).cpu()

    def __iter__(self) -> Iterator[str]:
        return iter(self._run.splits)

    def __len__(self) -> int:
        return len(self._run.splits)
