"""Reports over a period: ticket volume, response and resolution times, SLA and CSAT."""
