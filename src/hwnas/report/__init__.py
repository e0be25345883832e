"""Reports a person can read: tables, plots."""
