"""The window's tabs, one module each, declaring itself with ``TAB = Tab(...)`` (see :mod:`workbench.viewmodels.tab`):
Browse, Imbalance, Train, Runs, Review, Label issues, Matrix. A tab builds from the workspace, owns its jobs and asks
other tabs for things through the workspace's requests; tabs never import each other.
"""
