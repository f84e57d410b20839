"""FastAGI: the sans-IO protocol (`protocol`) and the asyncio server around it (`server`)."""
