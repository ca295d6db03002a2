"""The dashboard: server-rendered pages under /ui/, signed in with a project key."""
