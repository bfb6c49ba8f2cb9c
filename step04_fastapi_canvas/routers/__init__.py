"""One router per resource: the seed's endpoints, workflows, results, tasks, the canvas page."""
