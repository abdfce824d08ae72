"""The embedded vLLM-compatible simulator behind the `local-sim` scenario (`python -m cibench.sim`).

Modules: `options` (command line), `tokenizer` (deterministic tokens and chat template),
`textgen` (seeded text, answers), `schemagen` (values from JSON schemas), `protocol`
(request validation), `plan` (what each choice emits), `render` (response bodies and SSE
chunks), `engine` (batching and timing model), `waits` (precise sleeps), `faults` (fault
injection), `metrics` (Prometheus), `app` (HTTP routes), `testing` (`run_simulator`).

Accuracy rule: when the last user message contains the text "Answer: $LETTER" (the
simple-evals template), the content ends with a line `Answer: L` where
L = "ABCD"[sha256(last user message text, utf-8).digest()[0] % 4].
"""
