"""Documentation tooling: the gallery page and the layer reference, generated from specs and the registry."""
