#!/usr/bin/env python
"""10-minute public culture and sports circle (10分钟公共文体服务圈): coverage per village and town.

Default inputs are the embedded dataset (SYNTHETIC roads/people/facilities); pass
--network/--facilities/--population/--villages for real data.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _circle import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("culture_sports_10", __doc__.splitlines()[0]))
