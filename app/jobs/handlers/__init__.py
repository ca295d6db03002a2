"""One module per job kind; each orchestrates the services' use cases for its kind."""
