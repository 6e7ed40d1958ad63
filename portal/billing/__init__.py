"""Billing documents: invoices and their editor, estimates and proposals, document views and PDFs,
reminders, the console overview."""
