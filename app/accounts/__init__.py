"""Customer accounts: the organisations a support team serves, their links to Slack, and how
healthy each one is."""
