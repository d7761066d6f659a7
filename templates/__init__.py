"""The bundled templates (shipped in the wheel as digest.templates)."""
