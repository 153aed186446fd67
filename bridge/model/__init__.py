"""The bridge's values: messages, senders, phone numbers and their forms. Pure: no I/O."""
