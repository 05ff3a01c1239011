"""Mail transports: SMTP sending, OAuth tokens, IMAP sync, provider presets."""
