"""Sync: the pipeline that pulls a connection's streams into the store, and its read-ahead."""
