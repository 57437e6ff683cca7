"""skae's benchmarks, grouped by the claim each one measures.

Not part of the installed package. Run a script from the repository root as a
module, e.g. ``python -m benchmarks.quality.nab --quick``; ``README.md`` beside
this file holds the tables and the command that produced each.
"""
