"""`make faults`: a step broken under load (workers killed, servers away, restarted), and what
was lost counted. core.py is what every run shares; tasks.py breaks step 2 (tasks), workflows.py
steps 3 and 4 (chords); servers.py starts the private servers a scenario may restart."""
