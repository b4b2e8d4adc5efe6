"""Platform-neutral services: digest, brief, ask, feeds, ingest; and the ports they use."""
