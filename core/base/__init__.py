"""What every layer of ``core`` may use: the error types, iteration helpers (``drain``, ``chunks``), writing a
file whole or not at all, and the allocator setting of training processes (``memory``). Imports nothing else from
``core``.
"""
