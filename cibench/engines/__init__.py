"""Thin launchers for real inference engines, started by the `local` launcher like `vllm serve`."""
