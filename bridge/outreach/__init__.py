"""Messages the team writes first: the message API, the inbox app's send panel and `bridge send`."""
