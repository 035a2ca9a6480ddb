"""Traces: named, typed records of every intermediate quantity of the forward and backward passes.

A trace may be partial while it is being stepped through; missing entries are None."""

from __future__ import annotations

from dataclasses import dataclass

from app.engine.arrays import Array, mean
from app.errors import PhaseError


@dataclass(frozen=True)
class ForwardTrace:
    """Everything the forward pass computes, for a batch of n samples."""

    #: t: the targets, shape (n, layers[-1]).
    targets: Array
    #: a(l+1) = h(l) w(l) + b(l): pre-activation of layer l+1, shape (n, layers[l+1]).
    pre_activations: tuple[Array | None, ...]
    #: h(l): activation of layer l; h(0) = x is the input, h(L) = y the output.
    activations: tuple[Array | None, ...]
    #: L of each sample, shape (n,), once the loss sub-step has run.
    sample_losses: Array | None

    @property
    def layers_done(self) -> int:
        """How many weight layers have been propagated so far."""
        return sum(a is not None for a in self.pre_activations)

    @property
    def complete(self) -> bool:
        return self.sample_losses is not None

    @property
    def loss(self) -> float | None:
        """Mean loss over the batch (the loss of the single sample for a batch of one)."""
        return None if self.sample_losses is None else mean(self.sample_losses)

    def activation(self, layer: int) -> Array:
        value = self.activations[layer]
        if value is None:
            raise PhaseError(f"the forward pass has not reached layer {layer} yet")
        return value

    def pre_activation(self, layer: int) -> Array:
        """a of unit layer ``layer`` (1..L)."""
        value = self.pre_activations[layer - 1]
        if value is None:
            raise PhaseError(f"the forward pass has not reached layer {layer} yet")
        return value


@dataclass(frozen=True)
class BackwardTrace:
    """Everything the backward pass computes; gradients are means over the batch."""

    #: ∂L/∂h(l+1) for each sample: ∂L/∂y for the output layer, Σ_k δ_k w_jk for hidden layers.
    activation_gradients: tuple[Array | None, ...]
    #: δ(l+1) = ∂L/∂a(l+1) for each sample, shape (n, layers[l+1]).
    deltas: tuple[Array | None, ...]
    #: ∂L/∂w(l) = mean over samples of h(l)ᵀ δ(l+1), shape (layers[l], layers[l+1]).
    weight_gradients: tuple[Array | None, ...]
    #: ∂L/∂b(l) = mean over samples of δ(l+1), shape (layers[l+1],).
    bias_gradients: tuple[Array | None, ...]

    @property
    def layers_done(self) -> int:
        return sum(d is not None for d in self.deltas)

    @property
    def complete(self) -> bool:
        return all(d is not None for d in self.deltas)

    def delta(self, layer: int) -> Array:
        """δ of unit layer ``layer`` (1..L)."""
        value = self.deltas[layer - 1]
        if value is None:
            raise PhaseError(f"δ of layer {layer} has not been computed yet")
        return value

    def weight_gradient(self, l: int) -> Array:
        value = self.weight_gradients[l]
        if value is None:
            raise PhaseError(f"the gradient of weight layer {l} has not been computed yet")
        return value

    def bias_gradient(self, l: int) -> Array:
        value = self.bias_gradients[l]
        if value is None:
            raise PhaseError(f"the gradient of bias layer {l} has not been computed yet")
        return value

    def activation_gradient(self, layer: int) -> Array:
        value = self.activation_gradients[layer - 1]
        if value is None:
            raise PhaseError(f"∂L/∂h of layer {layer} has not been computed yet")
        return value
