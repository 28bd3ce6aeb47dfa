"""The Airtable backend: pyairtable over a paced, retrying HTTP adapter (one package: client, errors,
schema, HTTP)."""
