"""Train facelens's face-quality model: runs facelens/train/quality.py from a checkout.

python tools/train_quality.py [--data ../shared/data/lfw] [--workers 2]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facelens.train.quality import main

if __name__ == "__main__":
    main()
