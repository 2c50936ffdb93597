"""What archspec does with the machine it runs on: memory budgets (guard), atomic outputs and
locks (io), and signals (interrupts)."""
