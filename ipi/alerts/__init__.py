"""Alerts: rules over the daily estimates, messages, and their delivery through apprise.

``engine`` evaluates an account's day and queues what to send; ``control`` holds the
on-call person's levers (acknowledge, silence) and the history; ``deliver`` and
``outbox`` send, retry and record. This package imports nothing itself, so asking for
the history (``ipi alerts history``) does not load apprise or matplotlib.
"""
