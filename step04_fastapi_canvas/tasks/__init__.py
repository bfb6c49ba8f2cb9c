"""The tasks of step 4: tasks/arithmetic.py."""
