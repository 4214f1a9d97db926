"""The hotline staff console (热线工作台) at /console/: staff accounts, sessions, search, item cards,
case lookups with an audit log, and the editors' view of 好差评 ratings.

Layout: `passwords` (scrypt), `stores` (the shared-state interfaces and their SQLite versions),
`auth` (logins, sessions, CSRF, lockout and the route guards other console modules reuse),
`search`, `card`, `cases`, `ratings`, `shell` (the navigation) and `channel` (the Rasa input
channel that serves it all).
"""
