"""Declarative experiments: specs, registry, results store, execution, figures."""
