"""Support figures (CONTRACT.md section 6) computed in SQL: turns, response times, handoffs, CSAT.

The core of ``carebot report`` and ``/api/v1/reports/*``; it reads the database and knows nothing
of the web or the command line.
"""
