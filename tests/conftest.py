import sys
from pathlib import Path

# tests/helpers.py is shared by test modules in sub-folders
sys.path.insert(0, str(Path(__file__).parent))
