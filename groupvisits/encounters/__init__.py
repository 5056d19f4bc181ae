"""One-on-one visits inside a session: slots, the planner, encounter notes."""
