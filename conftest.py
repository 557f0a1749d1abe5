pytest_plugins = ["custos.testing"]
