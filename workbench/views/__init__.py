"""The main window's tabs and panes (Browse with its detail pane, Imbalance, Train, Runs, Review): widgets that show
one catalog through view-models, reusable widgets and workers. A tab may contain a pane (Browse holds ``detail``);
tabs never import each other, the main window connects them.
"""
