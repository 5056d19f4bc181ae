"""Benchmarks of GroupVisits pages: query counts and server time on network-sized data."""
