# One line per fuzz target; each area appends its own below.
