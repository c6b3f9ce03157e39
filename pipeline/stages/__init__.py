"""The stages: plan, rpms, containers, publish, verify. Each is a plain function over a Context."""
