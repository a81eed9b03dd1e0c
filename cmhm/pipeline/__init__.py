"""What every workflow job shares: the config check, the variant table, provenance records and job logs."""
