from cmhm.cli import main

raise SystemExit(main())
