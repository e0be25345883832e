"""hwnas: hardware-aware neural architecture search.

Train a weight-sharing super-network once, search its sub-networks for the
Pareto front of quality vs hardware cost, and cost them on any hardware.
"""

__version__ = "0.1.0"
