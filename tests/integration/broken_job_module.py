"""A job module whose own dependency is missing (used by test_jobs_cli)."""
import a_dependency_that_is_missing  # noqa: F401
