from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    name = "step03_django_rabbitmq.articles"
    label = "articles"
    verbose_name = "Articles"
