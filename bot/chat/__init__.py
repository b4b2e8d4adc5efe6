"""Chat adapters: commands in, rendered messages out, nothing else."""
