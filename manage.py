#!/usr/bin/env python
from custos.cli import main

if __name__ == "__main__":
    main()
