"""Setting up a root for FEX: page size, binfmt_misc, FEX's Config.json, health."""
