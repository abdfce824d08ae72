"""Configuration: pydantic models for the YAML files under configs/ and their loader."""
