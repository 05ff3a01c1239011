"""mailbell's domain: settings, storage, services, rendering and delivery. No front end lives here."""
