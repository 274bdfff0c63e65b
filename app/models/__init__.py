"""Flowyard's entities as the services hand them out: one model family per entity.

In the full-stack-fastapi-template way, each module declares an entity's fields once in a `…Base`;
`storage.models` derives the table row from it (`…Row(…Base, table=True)`), and the shapes around
it derive from it too: `…Create` and `…Update` (what a client sends), `…Public` (what the services
return, the API serialises in camelCase and the pages show). Read models that no table holds (a page
of runs, an approval with its context) live beside their entity.
"""
