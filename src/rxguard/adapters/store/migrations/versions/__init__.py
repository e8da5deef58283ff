"""Migration scripts, oldest first; each revision is a module here."""
