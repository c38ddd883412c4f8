"""State the views share, without widgets: the open catalog's attributes and labels, and the undoable editor."""
