"""Which Intercom contact a sender is: the identity map, matching, lookup and sync."""
