"""The verbs, one module each, in the order of the flow: setup_host, plan, fetch_sources, rpms,
local_base, containers (with image), build, publish, verify, registry, bench. Each has
``main(ctx) -> int``; ``pipeline.verbs`` lists them."""
