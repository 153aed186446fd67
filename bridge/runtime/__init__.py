"""Running the bridge: `bridge run`, serving, the embedded Valkey, child processes."""
