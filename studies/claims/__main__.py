"""python3 -m studies.claims [RESULTS] [--table NAME]: the claims the docs
check, measured on RESULTS (the directory python3 -m studies wrote, or the
snapshot, studies/snapshot), with their verdicts, in Markdown."""
from lab import stopping
stopping.quiet_ctrl_c("studies.claims")

import sys

from studies import claims

sys.exit(stopping.tool("studies.claims", claims.main))
