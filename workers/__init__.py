"""rq jobs: SMS replies and payment reminders (issues 3 and 4); none run yet."""
