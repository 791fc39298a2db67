import sys

from .cli import main

if __name__ == "__main__":  # guard: process-pool workers are spawned and re-import this module
    sys.exit(main())
