"""What archspec's commands are timed against, as whole processes: the scripts a user would
write without archspec. Each is a module run as ``python -m bench.alternatives.<name>``."""
