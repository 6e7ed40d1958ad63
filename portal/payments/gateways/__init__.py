"""Payment gateways: the PaymentGateway protocol, Stripe, the built-in sandbox, and which one is in use."""
