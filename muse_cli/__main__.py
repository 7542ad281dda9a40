"""python -m muse_cli"""

from muse_cli.cli import main

main()
