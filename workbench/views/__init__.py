"""The panes of the tabs: Browse's ``detail``, ``prediction_bar`` and ``accept_dialog``, Train's ``model_source``,
Runs' ``operating_panel`` and ``adjust_panel``."""
