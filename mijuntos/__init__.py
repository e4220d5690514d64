"""Mi Juntos command line: database, import, demo data, the terminal phone and the local runner."""
