"""Where each session's agent runs, and reaching it there: find the agent's process
(`matching`, `processes`), map it to its terminal (`locate`, one module per terminal
kind), and focus it or type into it (`service`)."""
