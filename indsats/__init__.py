"""indsats: an engine for municipal action plans (indsatsplaner).

A plan (YAML, in ``indsats/workflows/``) says what must happen, in which order, by whom and by when;
every concern raised under it is a case that people advance, that reminds and escalates when it stalls.
"""

__version__ = "0.1.0"
