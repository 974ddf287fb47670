"""Matching people: features, blocking, comparisons, the model, clusters, the caches
matching keeps between runs, and the review decisions staff make (see docs/matching.md)."""
