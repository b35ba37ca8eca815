"""Size and structure limits of the files archsim reads (each an assumption: far above any real
config, network or input, far below what would exhaust a laptop)."""

#: Largest YAML document read (chip, technology, sweep, mapping files), bytes. A mapping of a large
#: network on a board is the biggest real one (a few MB).
YAML_MAX_BYTES = 64 * 2**20
#: Deepest nesting of mappings and sequences in a YAML document (real configs nest < 10 deep).
YAML_MAX_DEPTH = 64
#: Most nodes a YAML document may stand for once its aliases are expanded (defeats "billion laughs").
YAML_MAX_EXPANDED_NODES = 2_000_000
#: Largest JSON document read (a RESULT.json, a stats file), bytes.
JSON_MAX_BYTES = 256 * 2**20
#: Deepest nesting in a JSON document.
JSON_MAX_DEPTH = 64
