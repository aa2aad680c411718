"""make bench-real: grappo's searches on the trained models, judged on their labelled data."""
