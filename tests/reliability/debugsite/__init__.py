"""The example site with ``DEBUG = True`` and two failing views, for the debug-page leak test."""
