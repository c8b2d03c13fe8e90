"""The scheduler's named jobs and how they run: each in a worker thread of its own, each with its own deadline."""
