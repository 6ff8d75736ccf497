"""The container engine layer: images, containers, the distro runner, portable CPython.

Never imports the faces (plugin, session, items, report, cli).
"""
