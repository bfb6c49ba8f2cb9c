#!/usr/bin/env python
"""Django's command line for step 3, run from the top of the repository:

.venv/bin/python step03_django_rabbitmq/manage.py migrate
.venv/bin/python step03_django_rabbitmq/manage.py createsuperuser
"""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    # The project is the package step03_django_rabbitmq.project: import it from the top.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "step03_django_rabbitmq.project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
