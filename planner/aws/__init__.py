"""AWS account integration on the planner's side (commitments held, Cost Explorer)."""
