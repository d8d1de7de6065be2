"""Write the findings tables of docs/results.md from a pipeline run's files (`make findings`).

python pipelines/findings.py                      # outputs/ -> docs/results.md
python pipelines/findings.py --run-dir outputs/multirun/<sweep>/<job> --print
"""

import argparse
import sys
from pathlib import Path

from gmmgen.report import findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default="outputs", help="the folder holding data/, select/, evaluate/ ...")
    parser.add_argument("--page", default=findings.PAGE, help="the file whose findings block is rewritten")
    parser.add_argument("--print", action="store_true", help="print the tables instead of writing the page")
    args = parser.parse_args(argv)
    try:
        block = findings.findings_markdown(Path(args.run_dir))
        if args.print:
            print(block, end="")
            return 0
        page = Path(args.page)
        page.write_text(findings.replace_block(page.read_text(), block))
    except (FileNotFoundError, ValueError) as exc:
        print(f"gmmgen: error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.page}: findings tables rewritten from {args.run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
