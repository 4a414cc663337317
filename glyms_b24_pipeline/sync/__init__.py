"""The write path every sync shares: one writer per portal, plans bound to their run, audit, read-back."""
