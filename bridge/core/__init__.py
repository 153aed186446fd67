"""The foundations every layer uses: errors, settings, logging, retrying. No redis, rq or starlette."""
