"""One run's steps over the connectors, given the settings: load, sync, write-back, messages, drafts,
the Aides-territoires import, delivery, and the run itself (`run.run_cycle`). Imports the settings,
the domain and the connectors; never the entry points."""
