"""Plans as data: the schema, the complete checks, the catalog, the machine, fields, the document and graph."""
