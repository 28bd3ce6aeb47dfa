"""The Google Sheets backend: gspread over a paced, bounded-retry HTTP client (one package: client,
auth, cells, errors, schema, HTTP)."""
