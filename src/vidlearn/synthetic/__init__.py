"""Built-in procedural datasets for every wing (the embedded default data)."""
