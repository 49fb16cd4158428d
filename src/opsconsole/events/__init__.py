"""Events: every source (polls, traps, external senders) enters through pipeline.submit.

- pipeline.submit / process: normalize -> fingerprint & dedup -> suppress -> correlate ->
  store -> rules, in batches (fingerprint, dedup, suppress, correlation, flapping, services)
- actions: what operators do to alerts (ack, unack, snooze, assign, close, note, resolve)
- silences: silences and their matchers (matchers); timers: what changes with time alone
- queries: the alert queue (keyset pages, views, filters, counts) and an alert's detail
- sources: JSON lines and Prometheus Alertmanager webhook payloads
"""
