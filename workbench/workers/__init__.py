"""Work off the GUI thread: superqt workers and the serial writer, the thumbnail loader, torch import in the
background and the training queue. The lowest layer of the workbench: no widgets of its own.
"""
