"""Mi Juntos command line: database, import, reminders, reports, staff accounts, worker and scheduler."""
