"""Sink types, each declared once: what a sink type is, as the product's every part reads it.

A sink type is two halves joined by one registration line in `registry.TYPES`:

- its *declaration* here in `runtime/sinks/<type>.py` — the configuration (parse and validate,
  Twilio's 91000 naming the field), the initial status, the usage category, the limits a
  reader should know, and a JSON-Schema-like description of the configuration form. Control,
  the gateway, `evs` and the docs read only this half, so none of them imports delivery code.
- its *driver* in `services/delivery/sinks/<type>/`, named here by module path and imported by
  the delivery worker alone (`services/delivery/sinks/registry.py`): the driver factory, its
  error mapping and its call limits.
"""
