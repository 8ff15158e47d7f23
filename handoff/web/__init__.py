"""The desk's web edge: the JSON API, authentication, the live event stream and the console."""

from handoff.web.desk_routes import attach_agent_desk

__all__ = ["attach_agent_desk"]
