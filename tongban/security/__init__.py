"""Keys, redaction and input bounds: what keeps citizens' data and the servers safe."""
