"""IMAP scenarios."""
