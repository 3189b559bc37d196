import sys

from app.cli import main

if __name__ == "__main__":  # guarded: worker processes import this module as __mp_main__
    sys.exit(main())
