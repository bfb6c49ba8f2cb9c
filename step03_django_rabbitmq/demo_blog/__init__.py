"""A small blog about Python, served on port 8004 by `make step03`: what the scraper reads
offline. `gunicorn step03_django_rabbitmq.demo_blog.app:app` serves it (supervisord.conf)."""
