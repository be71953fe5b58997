"""The `graphchat` command: the server, database maintenance, and the chat client."""
