"""An example archspec plugin: registers the `swiglu` layer type."""
