"""Evaluation: a connection's rules run as of a moment, the plan applied; rule packs."""
