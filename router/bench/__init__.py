"""`scripts/bench`: the router's throughput, latency and scale figures, measured side by side in one run.

Scenarios run against the EWS simulator in its own process, so the client's CPU (this process, or the
router's subprocess) and the server's CPU are counted apart. Every scenario is repeated and reported as
the median; ratios between scenarios come from the same run on the same machine. See ``run`` for the
entry point and ``report`` for the JSON shape. The test suite never asserts on these figures.
"""
