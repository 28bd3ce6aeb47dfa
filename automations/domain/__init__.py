"""The domain: pure functions and values (parsing, the model, matching, reminders, digests, report
contents, the Aides-territoires mapping). No I/O, no clock, no environment: every function takes the
data and `today` it works on. Imports nothing of the layers above (settings, cycle, entry points)."""
