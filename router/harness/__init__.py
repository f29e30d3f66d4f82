"""Run the router's parts as separate processes, for the demo, the benchmark and the fault soak.

``procstat`` reads a process's CPU time and resident memory; ``simprocess`` runs the EWS simulator in
its own process (so its CPU is counted apart from the client's); ``messages`` builds realistic inbound
mail of a given size; ``routerprocess`` prepares a home and runs `email-router run` as a subprocess.
"""
