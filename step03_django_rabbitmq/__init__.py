"""Step 3: Django + Celery + RabbitMQ + PostgreSQL, a scraper that stores articles.

`make step03` starts it; README.md is the lesson.
"""
