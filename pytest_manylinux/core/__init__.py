"""The pure core: wheel -> claim + ELF facts -> observations -> verdict. Never imports docker or pytest."""
