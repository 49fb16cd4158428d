"""Events: every source (polls, traps, external senders) enters through pipeline.submit."""
