"""Modal and modeless dialogs: importing images, managing labels and attributes."""
