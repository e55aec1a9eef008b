"""Backtests: the rules replayed over a connection's history, scored against quota."""
