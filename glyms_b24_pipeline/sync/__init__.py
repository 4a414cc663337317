"""The write path every sync shares: one writer per portal (lock, liveness, writer tag), plans bound to their run, audit, read-back, mapping checks."""
