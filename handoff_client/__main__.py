"""``python -m handoff_client customer|agent --url ws://HOST:PORT``: the terminal client."""

import sys

from handoff_client.terminal import main

sys.exit(main())
