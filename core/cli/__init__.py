"""The headless ``tailor`` command: one argument parser per group of subcommands, their commands, and the terminal
rendering of a run's events. The top layer of ``core``: nothing in ``core`` imports it.
"""
