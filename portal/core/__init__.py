"""What every package uses: who is acting, the clock, paging, the audit trail, secrets at rest, the
organization row, document numbers, image checks."""
