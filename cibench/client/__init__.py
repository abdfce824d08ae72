"""The streaming OpenAI client with timing: SSE parsing, HTTP/1.1 framing, timed connections."""
