"""mailbell's domain: settings, storage, services, rendering, delivery. No front end here."""
