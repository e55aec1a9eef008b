"""Alembic environment and revisions for the canonical store.

A package (rather than a bare folder) so the revisions ship inside the wheel and
``driftcoach db upgrade`` works from an installed copy with no ``alembic.ini`` at hand.
"""
