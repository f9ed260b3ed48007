"""Building labelled datasets (TracerTraj-style) from recordings."""
