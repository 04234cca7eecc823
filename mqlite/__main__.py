"""``python -m mqlite demo`` runs the demo; ``python -m mqlite serve`` an SQS/SNS endpoint."""

from __future__ import annotations

import sys

from .demo import main

if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        # Imported only here: the server needs the optional ``aws`` extra.
        from .aws._server import serve

        sys.exit(serve(sys.argv[2:]))
    sys.exit(main(sys.argv[1:]))
