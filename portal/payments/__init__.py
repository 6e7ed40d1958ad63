"""Payment gateways: the PaymentGateway protocol, Stripe, the built-in sandbox, webhooks."""
