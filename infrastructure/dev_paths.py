"""Put the repo root and the shared layer on the dev virtualenv's import path.

In Lambda the layer's code sits in /opt/python; on a laptop the same package is
imported straight from layers/shared through a .pth file, so there is exactly
one copy of the code and no install step to forget.
"""

import pathlib
import sysconfig

ROOT = pathlib.Path(__file__).resolve().parent.parent
site = pathlib.Path(sysconfig.get_paths()["purelib"])
(site / "gridpulse-dev.pth").write_text(f"{ROOT}\n{ROOT / 'layers' / 'shared'}\n")
print(f"import paths written to {site / 'gridpulse-dev.pth'}")
