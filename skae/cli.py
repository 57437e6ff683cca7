"""The ``skae`` command line."""

import argparse


def main(argv=None):
    """Run the ``skae`` command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="skae")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="fit on a shipped NAB series and report")
    demo.add_argument("--quick", action="store_true", help="a few epochs only")
    demo.add_argument("--plot", metavar="PATH", help="write a PNG of the detection")
    args = parser.parse_args(argv)
    from ._demo import run_demo

    run_demo(quick=args.quick, plot_path=args.plot)
    return 0
