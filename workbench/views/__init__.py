"""The main window's tabs and panes (Browse, detail, Imbalance, Train, Runs, Review): widgets that show one
catalog through view-models and workers. Each view owns its layout; none imports another view.
"""
