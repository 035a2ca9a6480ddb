"""Backprop Visualizer: step through backpropagation one phase at a time."""
