"""A session's traces in the article's names, and the pieces of the chain rule written with them."""

from __future__ import annotations

import pytest

from app import session
from app.chainrule import Factor, net_of, product
from app.errors import NothingComputedError
from app.mathtext import Name, Op, name_text, plain


def test_nothing_is_named_before_the_forward_pass() -> None:
    with pytest.raises(NothingComputedError, match="run forward first"):
        net_of(session.create("c"))


def test_the_article_names_of_the_2_3_2_network() -> None:
    net = net_of(session.run_forward(session.create("c")))
    assert [name_text(net.unit(layer, 0)) for layer in range(3)] == ["x1", "h1", "y1"]
    assert [name_text(net.weight(l, 1, 0)) for l in range(2)] == ["w21", "u21"]
    assert name_text(net.weight(1, "j", "k")) == "u_jk"
    assert name_text(net.bias(0, 2)) == "b(1)3"
    assert name_text(net.delta(2, 0, "n")) == "δ(2)1⁽ⁿ⁾"
    h1 = net.h(1, 0)
    assert h1.name == "h1" and h1.value == float(net.fwd.activation(1)[0, 0])
    assert net.bwd is None  # after forward the backward trace is not shown yet


def test_a_product_brackets_only_its_sums() -> None:
    y, t, h = Name("y", "1"), Name("t", "1"), Name("h", "2")
    factors = [Factor((y, Op("−"), t), is_sum=True), Factor((h,))]
    assert plain(product(factors), False) == "(y1 − t1) · h2"
    assert plain(product(factors[1:]), False) == "h2"
