"""HTTP: app factory, routes, schemas, error mapping, pages and the JSON API."""
