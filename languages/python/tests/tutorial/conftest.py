from __future__ import annotations

import sys
from pathlib import Path

# The tutorial's programs are plain scripts next to each other, imported as the chapters run them.
sys.path.insert(0, str(Path(__file__).parents[2] / "tutorial"))
