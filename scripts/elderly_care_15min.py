#!/usr/bin/env python
"""15-minute home-based elderly care circle (15分钟居家养老服务圈): coverage per village and town.

Default inputs are the embedded dataset (SYNTHETIC roads/people/facilities); pass
--network/--facilities/--population/--villages for real data.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _circle import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("elderly_care_15", __doc__.splitlines()[0]))
