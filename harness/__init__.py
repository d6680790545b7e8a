"""What the tests, the fault drills and the benchmarks share: the real servers they start
on free ports (servers.py), the conversations they play (chats.py), a teaching stack's
handles (teach_stack.py) and test helpers around handoff_client (clients.py)."""
