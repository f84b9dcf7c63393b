"""Post-processors: trimming segments to a budget and packing them into encoder inputs."""
