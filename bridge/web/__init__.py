"""The HTTP front end: middleware, dependencies, routes. The only production package that imports
fastapi or starlette.
"""
