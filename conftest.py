"""Repository-wide pytest setup.

Hub access is the user's decision: nothing here sets ``HF_HUB_OFFLINE``. The default suite never needs the
Hub (its encoders and data load from installed packages); the paper suite uses it unless the user switched
it off. The unit tests switch it off for themselves (``tests/conftest.py``).
"""

from __future__ import annotations

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
