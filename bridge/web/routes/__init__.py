"""HTTP routes: they translate between HTTP and the domain, nothing more."""
