"""cibench: a CI benchmark suite for vLLM and OpenAI-compatible LLM servers, as pytest plugins."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cibench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
