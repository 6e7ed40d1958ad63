"""The organization's settings (admin only): organization, billing and tax, invoice template, reminders,
email, the Stripe account."""
