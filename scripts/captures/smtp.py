"""SMTP scenarios."""
