import sys

from .worker import main

sys.exit(main(sys.argv[1:]))
