"""The web app: Slack's HTTP endpoint and the read-only dashboard, one Flask application."""
