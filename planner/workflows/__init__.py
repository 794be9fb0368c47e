"""Workflows: the runs a command asks for (quarterly plan, what-if, attribution, Cost Explorer comparison)."""
