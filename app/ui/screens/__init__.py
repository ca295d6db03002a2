"""One module per dashboard screen: its routes and the page data its scripts fetch."""
