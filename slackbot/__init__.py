"""mailbell slackbot."""
