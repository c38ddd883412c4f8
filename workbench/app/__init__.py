"""The application shell: start-up (``launcher``, ``application``), the main window with its menus and tabs,
persistent settings and bundled resources. The top layer of the workbench.
"""
