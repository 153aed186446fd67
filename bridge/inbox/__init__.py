"""The Intercom inbox app: merging a contact into another, confirmed and audited."""
