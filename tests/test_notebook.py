"""Notebook export (app/notebook.py): the notebook recomputes the step with numpy alone, and its
assertions hold, for every activation, loss and mode, run in-process and in a real Jupyter kernel."""

from __future__ import annotations

import ast
import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from app import notebook, session
from app.session import Session

ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
#: The kernel the tests run notebooks in: this very interpreter (the venv's), whatever kernels the
#: machine has installed.
KERNEL = "backprop-viz-test"


def code_cells(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def run_in_process(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """Every code cell in order in one namespace, as a kernel would; the namespace at the end."""
    namespace: dict[str, Any] = {}
    for source in code_cells(nb):
        exec(compile(source, "<cell>", "exec"), namespace)
    return namespace


def make(
    layers: tuple[int, ...] = (2, 3, 2),
    activation: str = "sigmoid",
    output_activation: str = "sigmoid",
    loss: str = "l2",
    mode: str = "sgd",
    dataset: str | None = None,
    train_biases: bool = True,
    seed: int = 3,
) -> Session:
    return session.create(
        "nb-test",
        layers=layers,
        activation=activation,
        output_activation=output_activation,
        loss=loss,
        mode=mode,  # type: ignore[arg-type]
        dataset=dataset,
        train_biases=train_biases,
        seed=seed,
    )


def architectures() -> Iterator[tuple[str, str, str, str]]:
    for hidden, output, mode in itertools.product(ACTIVATIONS, ACTIVATIONS, ("sgd", "batch")):
        yield hidden, output, "l2", mode
    for hidden, mode in itertools.product(ACTIVATIONS, ("sgd", "batch")):
        yield hidden, "sigmoid", "bce", mode


@pytest.mark.parametrize(("hidden", "output", "loss", "mode"), list(architectures()))
def test_every_activation_loss_and_mode_recomputes_the_step(
    hidden: str, output: str, loss: str, mode: str
) -> None:
    current = make((2, 4, 3, 1), hidden, output, loss, mode, dataset="xor")
    # A step in and the next forward pass: in SGD mode the sample has moved on.
    current = session.run_forward(session.run_step(current))
    namespace = run_in_process(notebook.build(current))
    stepped = session.run_step(current)
    # The namespace's own numbers, beside the engine's (the cells' assertions said so already).
    assert namespace["W1_new"].ravel().tolist() == pytest.approx(
        stepped.params.weights[0].ravel().tolist(), rel=1e-9
    )
    assert namespace["L"] == pytest.approx(stepped.loss_history[-1], rel=1e-9)
    assert namespace["x"].shape == ((4, 2) if mode == "batch" else (1, 2))


@pytest.mark.parametrize(
    "steps",
    [
        (),
        ("forward",),
        ("substep",),
        ("substep", "substep", "substep", "substep"),
        ("forward", "backward"),
        ("step",),
        ("step", "step", "forward"),
    ],
)
def test_any_phase_gives_the_step_the_screen_is_in(steps: tuple[str, ...]) -> None:
    current = make((2, 3, 1), dataset="or")
    for name in steps:
        current = getattr(session, f"run_{name}")(current)
    stepped = notebook.step_of(current)
    assert stepped.phase == "updated"
    if current.phase == "updated":
        assert stepped is current
    else:
        assert stepped.step == current.step + 1
        assert stepped.sample_index == session.run_forward(current).sample_index
    namespace = run_in_process(notebook.build(current))
    assert namespace["x"].tolist() == [stepped.input]
    assert namespace["h0"] is namespace["x"]


def test_untrained_biases_keep_their_values() -> None:
    current = make(train_biases=False)
    nb = notebook.build(current)
    assert "b1_new = b1  # not trained" in code_cells(nb)[-1]
    namespace = run_in_process(nb)
    assert namespace["b2_new"].tolist() == current.params.biases[1].tolist()


def test_the_assertions_catch_a_wrong_number() -> None:
    nb = notebook.build(make())
    network = next(
        i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and "eta = " in cell.source
    )
    nb.cells[network].source = nb.cells[network].source.replace("eta = 0.5", "eta = 0.6")
    with pytest.raises(AssertionError, match="new w"):
        run_in_process(nb)


def test_the_article_network_is_written_in_its_notation() -> None:
    nb = notebook.build(make())
    text = "\n".join(cell.source for cell in nb.cells)
    assert "$a^{(1)} = x\\,w + b^{(1)}$" in text
    assert "$a^{(2)} = h\\,u + b^{(2)}$" in text
    assert "u_{jk}" in text and "W2 = np.array([" in text and "# u" in text
    deep = "\n".join(cell.source for cell in notebook.build(make((2, 3, 3, 2))).cells)
    assert "$a^{(2)} = h^{(1)}\\,w^{(2)} + b^{(2)}$" in deep


def test_numbers_are_written_in_full_precision() -> None:
    current = make()
    nb = notebook.build(current)
    network = next(source for source in code_cells(nb) if "W1 = " in source)
    for value in current.params.weights[0].ravel().tolist():
        assert repr(value) in network


def test_it_imports_numpy_and_nothing_else() -> None:
    for hidden, output, loss, mode in architectures():
        nb = notebook.build(make((2, 3, 1), hidden, output, loss, mode, dataset="and"))
        imported: set[str] = set()
        for source in code_cells(nb):
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Import):
                    imported |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom):
                    imported.add(node.module or "")
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                    assert node.func.id not in ("__import__", "exec", "eval", "open")
        assert imported == {"numpy"}


def test_it_is_valid_nbformat_4_and_the_same_for_the_same_session() -> None:
    current = make()
    text = notebook.dumps(current)
    assert text == notebook.dumps(current)
    document = json.loads(text)
    assert (document["nbformat"], document["metadata"]["kernelspec"]["name"]) == (4, "python3")
    nbformat.validate(document)
    assert all(cell["outputs"] == [] for cell in document["cells"] if cell["cell_type"] == "code")


# --------------------------------------------------------------------------------------------
# In a real kernel (nbclient + ipykernel), as a student would run it
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A kernelspec for this interpreter in a private directory, found through JUPYTER_PATH: the
    notebook runs in the venv's Python in a fresh clone (CI) as on a developer's machine."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"})
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(root))
        assert KernelSpecManager().get_kernel_spec(KERNEL).argv[0] == sys.executable
        yield KERNEL


def execute(nb: nbformat.NotebookNode, kernel: str, cwd: Path) -> list[str]:
    """Run the notebook top to bottom in a fresh kernel; the text each code cell printed."""
    NotebookClient(nb, kernel_name=kernel, timeout=120, resources={"metadata": {"path": str(cwd)}}).execute()
    printed: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert all(output.output_type == "stream" for output in cell.outputs), cell.outputs
            printed.append("".join(output.text for output in cell.outputs))
    return printed


# Between them, in a fresh kernel: every hidden and every output activation, both losses, both modes.
@pytest.mark.parametrize(
    ("layers", "hidden", "output", "loss", "mode", "dataset"),
    [
        ((2, 3, 2), "sigmoid", "sigmoid", "l2", "sgd", None),
        ((2, 4, 3, 1), "tanh", "sigmoid", "bce", "batch", "xor"),
        ((2, 5, 1), "relu", "linear", "l2", "sgd", "circle"),
        ((2, 3, 3, 3, 2), "linear", "tanh", "l2", "batch", None),
        ((2, 2, 2), "sigmoid", "relu", "l2", "sgd", None),
    ],
)
def test_it_runs_top_to_bottom_in_a_fresh_kernel(
    kernel_name: str,
    tmp_path: Path,
    layers: tuple[int, ...],
    hidden: str,
    output: str,
    loss: str,
    mode: str,
    dataset: str | None,
) -> None:
    current = session.run_forward(make(layers, hidden, output, loss, mode, dataset))
    nb = notebook.build(current)
    printed = execute(nb, kernel_name, tmp_path)
    checks = "".join(printed).count("✓")
    depth = len(layers) - 1
    # a and h per layer, L, δ per layer, ∂L/∂h per hidden layer, two gradients and two updates per layer
    assert checks == 2 * depth + 1 + depth + (depth - 1) + 4 * depth
    assert printed[-1].splitlines()[-1] == f"new b({depth}) ✓"


def test_a_wrong_number_fails_in_the_kernel(kernel_name: str, tmp_path: Path) -> None:
    nb = notebook.build(make())
    network = next(
        i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and "eta = " in cell.source
    )
    nb.cells[network].source = nb.cells[network].source.replace("x = np.array([[0.05", "x = np.array([[0.06")
    with pytest.raises(CellExecutionError, match="AssertionError"):
        execute(nb, kernel_name, tmp_path)
