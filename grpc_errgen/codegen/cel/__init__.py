"""CEL compiled ahead of time: ``check`` (cel-expr-python front end -> typed AST), ``emit`` (AST -> Python)."""
