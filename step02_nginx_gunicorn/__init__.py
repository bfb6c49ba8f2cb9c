"""Step 2: step 1's app, unchanged, behind Gunicorn and Nginx, with two workers and Flower."""
