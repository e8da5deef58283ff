"""The pharmacy's pages (server-rendered, Jinja2 + htmx) and its REST routes for EHRs and pharmacy systems."""
