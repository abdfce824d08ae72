"""The post-session pipeline and its terminal summary and `gates.json`."""
