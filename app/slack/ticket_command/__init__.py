"""`/ticket`: its grammar (grammar.py, pure), what a handler is given (call.py), and the table of
subcommands (specs.py) from which the parsing, the usage text and the listener's dispatch follow."""
