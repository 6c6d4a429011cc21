"""Bulk import of subjects and inspectors from CSV or XLSX files (what operators do)."""
