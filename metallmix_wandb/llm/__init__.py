"""The LLM feature: any OpenAI-compatible endpoint (or the embedded SmolLM2 demo server) asked for
schema-shaped JSON. `factory.open_endpoint` is the one way a command gets a client; `messages` and
`schemas` build what is sent, `output` reads what comes back, `ask` repairs until a valid config
comes, and `judge` scores a recommendation. Extension point: the response modes (`llm/modes/`), one
module per way of asking a server for JSON, listed once in `modes.RESPONSE_MODES`.
"""
