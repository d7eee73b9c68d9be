"""Faults through the front door: a Jepsen-style suite over real validator processes.

Agora is driven only as its users drive it: JSON-RPC calls, the node CLI and OS signals.
A bank workload moves money between accounts while a nemesis kills, restarts, pauses and
resumes validators; after a final heal the checkers read the whole history and the final
chains and say whether any acknowledged write was lost, any two nodes disagree, any tx ran
twice, any money appeared or vanished, any read saw a state that is not a prefix of the
finalized order, and how long each kind of fault kept the cluster from finalizing.

The short form runs in ``make test`` (tests/reliability/test_bank.py); the long form is a
command (``python -m tests.reliability --help``), documented in the README.
"""
