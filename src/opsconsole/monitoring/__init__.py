"""ITOM: collectors, the poller, thresholds, reachability and traps."""
