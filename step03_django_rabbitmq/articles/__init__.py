"""The `articles` app: the scraper's tasks, the articles it stores, the pages and the JSON API."""
