"""The patients' agenda: topics, votes, curation, the question box and what was said."""
