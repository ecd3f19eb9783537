"""Mutation testing of one target: `python tools/mutation.py TARGET [MUTANT_NAME...]` (`make mutation`).

mutmut reads [tool.mutmut] in pyproject.toml for what every target shares; the target's files and tests
come from [tool.mutation.<TARGET>]. A whole run starts from an empty mutants/ so its figures are those of
the code and tests as they are; naming mutants re-runs only those, in the mutants/ of the last run, and
--resume goes on with an interrupted run.
Prints the count per status, the killed share and the mutants that were not killed
(`.venv/bin/mutmut show NAME` shows one).
"""

from __future__ import annotations

import argparse
import shutil
import tomllib
from collections import Counter
from pathlib import Path

from mutmut.__main__ import cli
from mutmut.configuration import config
from mutmut.mutation.data import SourceFileMutationData
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files

TARGETS = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["mutation"]
MAX_WORKERS = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("mutants", nargs="*", help="re-run only these mutants (names as mutmut prints them)")
    parser.add_argument("--workers", type=int, default=MAX_WORKERS, choices=range(1, MAX_WORKERS + 1))
    parser.add_argument("--resume", action="store_true", help="go on with the mutants/ of an interrupted run")
    args = parser.parse_args()

    settings = config()
    settings.only_mutate = TARGETS[args.target]["only_mutate"]
    settings.pytest_add_cli_args_test_selection = TARGETS[args.target]["tests"]
    if not args.mutants and not args.resume:
        shutil.rmtree("mutants", ignore_errors=True)
    cli(["run", "--max-children", str(args.workers), *args.mutants], standalone_mode=False)

    statuses: dict[str, str] = {}
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        statuses |= {name: status_by_exit_code[code] for name, code in data.exit_code_by_key.items()}
    counts = Counter(statuses.values())
    print(f"\n{args.target}: {len(statuses)} mutants, " + ", ".join(f"{n} {s}" for s, n in counts.most_common()))
    print(f"killed: {counts['killed'] / len(statuses):.1%}")
    for name, status in sorted(statuses.items()):
        if status != "killed":
            print(f"    {status}: {name}")


if __name__ == "__main__":
    main()
