"""CRM adapters: one package per CRM behind a shared connector interface, plus the sandbox.

Connectors speak to CRMs and yield canonical records; they never import :mod:`service`
(an import-boundary test enforces it), so they can be reused and tested on their own.
"""
