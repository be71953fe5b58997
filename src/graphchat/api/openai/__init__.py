"""The OpenAI API (`/v1/…`): a view of graphchat's models and chat turn for OpenAI clients."""
