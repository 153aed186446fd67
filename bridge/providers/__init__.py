"""Provider adapters: the interface every provider implements (`base`), one sub-package per
provider (`adapter`, `send`, `check`), the payload helpers they share (`payloads`, `tokenauth`),
fetching their media (`media`), and the list of them all (`registry`).
"""
