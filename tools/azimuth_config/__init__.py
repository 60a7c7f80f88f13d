"""Move an azimuth-config environment to this program and back: ``import`` writes a site's stack
file from the environment's ``community_images_*`` variables, ``export`` gives azimuth-ops the
stack's image IDs (``python -m tools.azimuth_config --help``)."""
