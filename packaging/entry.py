"""The packaged application's entry point: the ``tailor`` command (CLI and window) of the installed package."""

import multiprocessing
import sys

from workbench.app.launcher import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # DataLoader workers (forkserver/spawn) re-enter this executable
    sys.exit(main())
