"""Background jobs: the registry of job kinds, their execution, and the runners."""
