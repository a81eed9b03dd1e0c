"""What every workflow job shares: the config check, provenance records and job logs."""
