"""``python tests/stand_in_cli.py run ...``: the pacabench CLI with ``--executor stand_in`` available
(cells measured by ``stand_in_cells.measure``, each in a real child process)."""
import sys

from pacabench.cli import main
from pacabench.runner.executor import EXECUTORS

EXECUTORS["stand_in"] = "stand_in_cells:StandInExecutor"

if __name__ == "__main__":
    sys.argv[0] = "pacabench"
    main()
