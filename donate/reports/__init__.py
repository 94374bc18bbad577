"""Payout reconciliation and exports (CSV, XLSX, PDF, FEC)."""
