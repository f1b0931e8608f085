"""Test-capture generator for mailedu (see scripts/make-captures)."""
