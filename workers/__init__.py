"""RQ job functions and the worker that runs them.

Jobs are thin: they load settings, open this job's connections and call one domain function in
`bridge`. Everything they need arrives as JSON-friendly keyword arguments.
"""
