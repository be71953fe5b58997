"""graphchat: a self-hosted chat-agent service."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("graphchat")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
