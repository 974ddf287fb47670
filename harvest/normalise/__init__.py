"""Turn raw rows into the common data standard: mapping, cleaning, checking (matching people is harvest/people/)."""
