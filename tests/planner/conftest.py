"""Planner tests: helpers live in planner_factory.py (imported by module name)."""
