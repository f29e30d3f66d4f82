"""The `email-router` command line: one click group per module, assembled in ``main``."""
