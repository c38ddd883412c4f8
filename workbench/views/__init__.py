"""The main window's tabs and panes (Browse with its detail pane, prediction bar and accept preview, Imbalance,
Train with its model source, Runs with its operating points and adjust panels, Review, Label issues, Matrix):
widgets that show one catalog through view-models, reusable widgets and workers. A tab may contain a pane (Browse
holds ``detail``); tabs never import each other, the main window connects them.
"""
