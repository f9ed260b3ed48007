"""The replay lab: record a multi-agent run through a proxy, replay it with one step changed.

Modules: `recording` (the data and its files), `proxy` (the OpenAI-compatible server),
`policy` (live, recorded or substituted answers), `session` (`record` and `replay`),
`convert` (a recording as a `Trajectory`), `upstream` (the real model), `agents` (who called).
"""
