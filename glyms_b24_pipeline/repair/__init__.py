"""Repairs of what the legacy script left in the portal (``glyms-b24 repair``)."""
