"""What every layer of ``core`` may use: the error types, iteration helpers (``drain``, ``chunks``) and writing a
file whole or not at all. Imports nothing else from ``core``.
"""
