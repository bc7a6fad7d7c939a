"""``python -m pacabench.cli``: the command line without the console script."""
from pacabench.cli import main

main()
