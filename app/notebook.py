"""Notebook export: a Jupyter notebook that recomputes a session's current step with plain numpy.

The notebook rebuilds the network (weights, biases, learning rate) and the sample (every sample
in batch mode), then computes one step cell by cell in the notation of MATH.md: each layer's
forward pass, the loss, δ of each layer from the output back, every gradient, the update. Each
code cell ends by asserting that its numbers equal the ones the visualizer shows, so a learner can
change a line and see which numbers move. It imports numpy and nothing else.

Which step: after an update, the update just made (the numbers on the screen); in any other
phase, the step in progress, as Step would complete it (its finished part is what the screen
shows; the rest is what the next sub-steps will show).

This module knows nothing of HTTP.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import nbformat
from nbformat import NotebookNode

from app import session
from app.engine import Architecture, Array
from app.notation import unit_symbol, weight_symbol
from app.session import Session

#: np.allclose(computed, shown, rtol=RTOL, atol=ATOL): the notebook sums in numpy's order, the
#: engine in its own, so the two differ by rounding, about 1e-16 relative; 1e-9 leaves room for
#: that and still catches any wrong formula.
RTOL, ATOL = 1e-9, 1e-12
#: The kernel the notebook asks for: any Python 3 with numpy.
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}

ACTIVATION_CODE = {
    "sigmoid": '''
        def sigmoid(a):
            """σ(a) = 1 / (1 + e^(−a))"""
            return 1 / (1 + np.exp(-a))


        def sigmoid_prime(a, h):
            """σ'(a) = σ(a) (1 − σ(a)), written with h = σ(a)"""
            return h * (1 - h)
        ''',
    "tanh": '''
        def tanh(a):
            return np.tanh(a)


        def tanh_prime(a, h):
            """tanh'(a) = 1 − tanh²(a), written with h = tanh(a)"""
            return 1 - h**2
        ''',
    "relu": '''
        def relu(a):
            return np.maximum(a, 0)


        def relu_prime(a, h):
            """1 where a > 0, else 0"""
            return (a > 0).astype(float)
        ''',
    "linear": """
        def linear(a):
            return a


        def linear_prime(a, h):
            return np.ones_like(a)
        """,
}
ACTIVATION_TEX = {
    "sigmoid": r"\sigma(a) = \frac{1}{1 + e^{-a}}, \quad \sigma'(a) = \sigma(a)\,(1 - \sigma(a))",
    "tanh": r"\tanh'(a) = 1 - \tanh^2(a)",
    "relu": r"\mathrm{relu}(a) = \max(a, 0), \quad \mathrm{relu}'(a) = 1 \text{ if } a > 0 \text{ else } 0",
    "linear": r"f(a) = a, \quad f'(a) = 1",
}


def step_of(current: Session) -> Session:
    """The session right after the step the notebook computes (see the module's docstring)."""
    if current.phase == "updated" and current.previous is not None:
        return current
    return session.run_step(current)


def _array(values: Array) -> str:
    """A numpy literal with every float in full (shortest round-trip) precision, a row per line."""
    rows = values.tolist()
    if values.ndim == 1 or len(rows) == 1:
        return f"np.array({json.dumps(rows)})"
    inner = "".join(f"    {json.dumps(row)},\n" for row in rows)
    return f"np.array([\n{inner}])"


def _tex(symbol: str) -> str:
    """A plain-text symbol in TeX: "h(2)" → "h^{(2)}"."""
    return symbol.replace("(", "^{(").replace(")", ")}")


@dataclass(frozen=True)
class _Names:
    """The article's symbols for a network's layers, for the notebook's text."""

    arch: Architecture

    def unit(self, layer: int) -> str:
        """The letter of unit layer ``layer``: x, h, h(2), y."""
        return unit_symbol(layer, 0, len(self.arch.layers)).text.removesuffix("1")

    def weight(self, l: int) -> str:
        """The letter of weight layer ``l``: w, u, or w(l+1) in deeper networks."""
        return weight_symbol(l, 0, 0, len(self.arch.layers)).text.removesuffix("11")

    def activation(self, layer: int) -> str:
        return self.arch.activation_of(layer).name


# nbformat's constructors carry no annotations: these give them their types.
_new_markdown_cell: Callable[[str], NotebookNode] = nbformat.v4.new_markdown_cell
_new_code_cell: Callable[[str], NotebookNode] = nbformat.v4.new_code_cell
_new_notebook: Callable[..., NotebookNode] = nbformat.v4.new_notebook
_writes: Callable[[NotebookNode], str] = nbformat.writes


def _markdown(text: str) -> NotebookNode:
    return _new_markdown_cell(textwrap.dedent(text).strip())


def _code(lines: list[str]) -> NotebookNode:
    return _new_code_cell("\n".join(lines).strip())


def _check(name: str, variable: str, shown: Array | float) -> str:
    literal = repr(shown) if isinstance(shown, float) else _array(shown)
    return f'check("{name}", {variable}, {literal})'


def build(current: Session) -> NotebookNode:
    """The notebook for the session's current step (see the module's docstring); valid nbformat 4."""
    stepped = step_of(current)
    fwd, bwd, before = stepped.forward, stepped.backward, stepped.previous
    assert fwd is not None and bwd is not None and before is not None
    arch, config, after = stepped.arch, stepped.config, stepped.params
    names = _Names(arch)
    depth = arch.depth
    samples = int(fwd.targets.shape[0])
    cells: list[NotebookNode] = []

    def add(markdown: str, code: list[str]) -> None:
        cells.append(_markdown(markdown))
        cells.append(_code(code))

    if config.mode == "batch":
        data_words = (
            f"all {samples} samples at once (batch mode), one row each: the loss and every gradient "
            "are means over the rows"
        )
    elif len(stepped.data) == 1:
        data_words = "the session's one sample"
    else:
        data_words = f"sample {stepped.sample_index + 1} of {len(stepped.data)} (SGD: one sample per step)"
    which = "the update just made" if stepped is current else "the step in progress, as Step would finish it"
    loss_name = "L2" if arch.loss == "l2" else "cross-entropy"
    cells.append(
        _markdown(
            f"""
            # One step of backpropagation, with numpy

            Session `{current.id}` of the Backprop Visualizer: a {"-".join(map(str, arch.layers))} network
            with {arch.activation} hidden units, {arch.output_activation} outputs and {loss_name} loss,
            learning rate η = {config.learning_rate!r}. This notebook recomputes update {stepped.step}
            ({which}) on {data_words}.

            Notation as in the visualizer: `W1[i, j]` joins unit i of layer 0 to unit j of layer 1 (the
            article's ${_tex(names.weight(0))}_{{ij}}$); `a1 = h0 @ W1 + b1` is layer 1 before its
            activation, as a row vector; `h0` is the input $x$ and `h{depth}` the output $y$.

            Each cell asserts that its numbers are the ones the visualizer shows, to a relative {RTOL:g}
            (absolute {ATOL:g} near zero): the same formulas summed in another order differ only by
            rounding.
            """
        )
    )
    cells.append(
        _code(
            [
                "import numpy as np",
                "",
                f"RTOL, ATOL = {RTOL!r}, {ATOL!r}",
                "",
                "",
                "def check(name, value, shown):",
                '    """Assert that a number computed here is the one the visualizer shows."""',
                "    ok = np.allclose(value, shown, rtol=RTOL, atol=ATOL)",
                '    assert ok, f"{name}: {value} is not {shown}"',
                '    print(name, "✓")',
            ]
        )
    )
    used = [name for name in ACTIVATION_CODE if name in {names.activation(k) for k in range(1, depth + 1)}]
    add(
        "## Activations\n\n" + "\n\n".join(f"$${ACTIVATION_TEX[name]}$$" for name in used),
        "\n\n\n".join(textwrap.dedent(ACTIVATION_CODE[name]).strip() for name in used).split("\n"),
    )

    network = [f"eta = {config.learning_rate!r}  # the learning rate η", ""]
    for l in range(depth):
        network.append(f"W{l + 1} = {_array(before.weights[l])}  # {names.weight(l)}")
        network.append(f"b{l + 1} = {_array(before.biases[l])}  # b({l + 1})")
    network += [
        "",
        f"x = {_array(fwd.activation(0))}  # one row per sample",
        f"t = {_array(fwd.targets)}  # their targets",
        "n = x.shape[0]",
        "h0 = x",
    ]
    add(
        f"## The network and the data\n\nThe weights and biases before the update, and {data_words}.", network
    )

    for layer in range(1, depth + 1):
        l, f = layer - 1, names.activation(layer)
        a = f"a^{{({layer})}}"
        add(
            f"""
            ## Forward: layer {layer}

            ${a} = {_tex(names.unit(l))}\\,{_tex(names.weight(l))} + b^{{({layer})}}$ (a row vector times a
            matrix), then ${_tex(names.unit(layer))} = \\mathrm{{{f}}}({a})$.
            """,
            [
                f"a{layer} = h{l} @ W{layer} + b{layer}",
                f"h{layer} = {f}(a{layer})",
                _check(f"a({layer})", f"a{layer}", fwd.pre_activation(layer)),
                _check(names.unit(layer), f"h{layer}", fwd.activation(layer)),
            ],
        )

    loss = fwd.loss
    assert loss is not None
    if arch.loss == "l2":
        loss_tex = r"L = \tfrac12 \sum_j (y_j - t_j)^2"
        loss_code = "L = np.mean(0.5 * np.sum((y - t) ** 2, axis=1))"
    else:
        loss_tex = r"L = -\sum_j \left[t_j \ln y_j + (1 - t_j) \ln(1 - y_j)\right]"
        loss_code = "L = np.mean(-np.sum(t * np.log(y) + (1 - t) * np.log(1 - y), axis=1))"
    mean = ", then the mean over the samples" if samples > 1 else ""
    add(
        f"## The loss\n\n${loss_tex}$ for each sample{mean}.",
        [f"y = h{depth}", loss_code, _check("L", "L", loss)],
    )

    out, f_out = depth, names.activation(depth)
    if arch.loss_function.requires_output == "sigmoid":
        words = "For cross-entropy on sigmoid outputs σ′ cancels: $\\delta_j = y_j - t_j$"
        code = [f"delta{out} = y - t"]
    else:
        words = f"$\\delta_j = (y_j - t_j)\\,\\mathrm{{{f_out}}}'(a_j)$: ∂L/∂y times the activation's slope"
        code = ["dL_dy = y - t", f"delta{out} = dL_dy * {f_out}_prime(a{out}, y)"]
    add(
        f"## Backward: δ of the output layer\n\n{words}; δ is ∂L/∂a of layer {out}.",
        [*code, _check(f"δ({out})", f"delta{out}", bwd.delta(out))],
    )
    for layer in range(depth - 1, 0, -1):
        f, h = names.activation(layer), _tex(names.unit(layer))
        delta, delta_next = f"\\delta^{{({layer})}}", f"\\delta^{{({layer + 1})}}"
        a, w_next = f"a^{{({layer})}}", _tex(names.weight(layer))
        add(
            f"""
            ## Backward: δ of hidden layer {layer}

            There is no target for ${h}$: it reaches the loss through every unit k of the next layer, so
            $\\partial L/\\partial {h}_j = \\sum_k {delta_next}_k\\,{w_next}_{{jk}}$, then
            ${delta}_j = \\partial L/\\partial {h}_j \\cdot \\mathrm{{{f}}}'({a}_j)$.
            The weights are those of the forward pass: nothing has changed yet.
            """,
            [
                f"dL_dh{layer} = delta{layer + 1} @ W{layer + 1}.T",
                f"delta{layer} = dL_dh{layer} * {f}_prime(a{layer}, h{layer})",
                _check(f"∂L/∂{names.unit(layer)}", f"dL_dh{layer}", bwd.activation_gradient(layer)),
                _check(f"δ({layer})", f"delta{layer}", bwd.delta(layer)),
            ],
        )

    gradients: list[str] = []
    for layer in range(depth, 0, -1):
        l = layer - 1
        gradients += [
            f"dW{layer} = h{l}.T @ delta{layer} / n",
            f"db{layer} = delta{layer}.mean(axis=0)",
            _check(f"∂L/∂{names.weight(l)}", f"dW{layer}", bwd.weight_gradient(l)),
            _check(f"∂L/∂b({layer})", f"db{layer}", bwd.bias_gradient(l)),
        ]
    mean = " (means over the samples: `/ n`)" if samples > 1 else ""
    add(
        f"""
        ## Gradients

        For every layer $\\partial L/\\partial w_{{ij}} = \\delta_j\\, o_i$, where $o_i$ is the output of
        unit i of the layer before, and $\\partial L/\\partial b_j = \\delta_j${mean}.
        """,
        gradients,
    )

    update: list[str] = []
    for layer in range(1, depth + 1):
        l = layer - 1
        update.append(f"W{layer}_new = W{layer} - eta * dW{layer}")
        trained = f"b{layer} - eta * db{layer}" if config.train_biases else f"b{layer}  # not trained"
        update.append(f"b{layer}_new = {trained}")
        update.append(_check(f"new {names.weight(l)}", f"W{layer}_new", after.weights[l]))
        update.append(_check(f"new b({layer})", f"b{layer}_new", after.biases[l]))
    biases = (
        "The biases follow the same rule."
        if config.train_biases
        else "This session does not train the biases (nor does the article): they keep their values."
    )
    add(
        f"""
        ## The update

        Every weight moves against its gradient, all at once:
        $w_{{ij}} \\leftarrow w_{{ij}} - \\eta\\,\\partial L/\\partial w_{{ij}}$. {biases}
        """,
        update,
    )
    cells.append(
        _markdown(
            f"""
            Every assertion passed: these are the visualizer's numbers for update {stepped.step}. Change a
            weight or the learning rate above and run the cells again to see what moves.
            """
        )
    )

    for k, cell in enumerate(cells):
        cell["id"] = f"cell-{k:02d}"  # stable ids: the same session gives the same file
    notebook = _new_notebook(
        cells=cells, metadata={"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    )
    nbformat.validate(notebook)
    return notebook


def dumps(current: Session) -> str:
    """The notebook as .ipynb text."""
    return _writes(build(current))
