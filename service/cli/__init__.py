"""The ``driftcoach`` command line: one module per command group, the app in ``main``.

Command modules import what a command needs when it runs, so ``--help`` stays fast
and the sandbox is imported only by the commands that run it.
"""
