"""``hiveledger demo``: a believable little network driven against a running node.

Publishers, a dozen miners and a few validators (one colluding pair among them) get
in-memory keys derived from the seed and money from the treasury. Miners run the SDK's
auto-miner with ``summary_solver``; validators vote on every submission; a rival reports
the colluders' friend, and honest validators confirm it; the sequencer settles every task
on its own clock. Afterwards the projections hold all of it for SQL, and the summary says
what happened, including that clipping votes to the stake-weighted median kept the friend
from winning on the colluders' votes.

    summary = await run_demo(DemoConfig(node="http://127.0.0.1:8545", seed=7), treasury)

Files: cast.py (who, and how good their work is), network.py (clients, funding,
registration, publishing, auto-miners), voting.py (votes, the fraud case, the watch),
summary.py (read back by SQL), render.py (rich tables), run.py (the sequence).
"""

from __future__ import annotations

from gateways.demo.run import DemoConfig, run_demo

__all__ = ["DemoConfig", "run_demo"]
