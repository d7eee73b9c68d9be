"""Deterministic simulation of Agora's PBFT replicas (see ``tests/sim/simulator.py``).

``run_simulation(seed)`` runs one seed; ``python -m tests.sim`` runs many (see
``tests/sim/__main__.py``).
"""

from tests.sim.scenario import BEHAVIOURS, Scenario
from tests.sim.simulator import SimFailure, SimResult, Simulator, run_simulation

__all__ = ["BEHAVIOURS", "Scenario", "SimFailure", "SimResult", "Simulator", "run_simulation"]
