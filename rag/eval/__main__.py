from rag.eval.cli import main

raise SystemExit(main())
