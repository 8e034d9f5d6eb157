"""Pure core: takes data, returns data. No W&B, Qdrant, OpenAI or torch imports here."""
