# The async-task workshop. `make` (or `make help`) lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make step01 PORT=8010` when 8000 is taken (step 2: the Nginx port); the step's other
# commands follow it with the same `PORT=`.
PORT   ?=
# `make ps STEP=step01`: which step a tool looks at (default: the running one).
STEP   ?=
# `make exercise EX=01.3`: which exercise (`make verify`, `hint`... default to the current one).
EX     ?=
FORCE  ?=
# `make stress N=500 C=20 TARGET=gunicorn` (default target: the step's front door).
N      ?= 500
C      ?= 20
TARGET ?=
# The room as a cluster: `make join ROOM=amqp://... NAME=alice [CONCURRENCY=4]`,
# `make room-send N=500 SECONDS=0.5`.
ROOM   ?=
NAME   ?=
CONCURRENCY ?=
SECONDS ?= 0.5
# The slides' Node packages (Marp CLI), installed by `npm ci` from slides/package-lock.json.
NODE_STAMP := slides/node_modules/.installed
# `make slides SLIDES_OUT=/tmp/decks`: where the built decks go.
SLIDES_OUT ?= build/slides
PORT_ARG := $(if $(PORT),--port $(PORT))
STEP_ARG := $(if $(STEP),--step $(STEP))
# The container path: `docker compose` (the plugin) when it answers, else Debian's
# docker-compose (1.29). `make step01-docker COMPOSE=docker-compose` chooses.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' || echo docker-compose)
# What compose reads: .env, made from .env.example the first time, with a Django secret key of
# its own (compose stops without one, whichever profile: it reads the whole file).
DOT_ENV = test -f .env || cp .env.example .env; \
	grep -q '^DJANGO_SECRET_KEY=.' .env || printf '\n\# Made by make for the containers.\nDJANGO_SECRET_KEY=%s\n' \
		"$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" >> .env
# Until every container of these services is healthy, two minutes at most (what
# `docker compose up --wait` does; Debian's docker-compose has no --wait).
HEALTHY = for _ in $$(seq 60); do ids=$$($(COMPOSE) ps -q $(1)); test -n "$$ids" && \
	! docker inspect --format '{{.State.Health.Status}}' $$ids | grep -qvx healthy && exit 0; \
	sleep 2; done; echo "$(1): not healthy after 2 minutes ($(COMPOSE) ps; $(COMPOSE) logs)"; exit 1

.PHONY: help setup bench doctor env services exercises exercise verify hint solution watch \
	exercises-reset step01 step01-broken step01-docker check-step01 \
	step02 step02-docker check-step02 step03 step03-docker check-step03 step04 step04-docker \
	check-step04 ps trace live stress demo faults room join room-send room-close notebooks notebooks-html slides slides-pdf test test-quick \
	test-docker lint clean

help: ## list the targets (this page)
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  make %-15s %s\n", $$1, $$2}'

setup: $(STAMP) ## create .venv with the pinned dependencies (every target does it for you)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "Python 3.11 or newer is needed; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
		echo "Install it, then: make setup PYTHON=python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

doctor: setup ## list what this machine has (Python, services, nginx, docker, ports) with fixes
	@$(BIN)/python -m workshop doctor

env: setup ## the variables a step runs with, as export lines: make env STEP=step01
	@test -n "$(STEP)" || { echo "Usage: make env STEP=step01 (then: eval \"\$$(make -s env STEP=step01)\")"; exit 2; }
	@$(BIN)/python -m workshop env $(STEP) $(PORT_ARG)

services: ## start RabbitMQ, Redis and PostgreSQL (Docker), or say how to get them
	@if docker info >/dev/null 2>&1; then \
		$(DOT_ENV); \
		$(COMPOSE) up --detach rabbitmq redis postgres && \
		( $(call HEALTHY,rabbitmq redis postgres) ) && \
		echo "Services are up. RabbitMQ in Docker uses the account from .env (never guest):" && \
		echo "in .env, uncomment the CELERY_BROKER_URL and DATABASE_URL lines marked make services."; \
	else \
		echo "No Docker engine answers here. Start the services from your system's packages:"; \
		echo "  Debian/Ubuntu: sudo apt-get install rabbitmq-server redis-server postgresql"; \
		echo "                 sudo rabbitmq-server -detached; sudo redis-server --daemonize yes"; \
		echo "                 sudo pg_ctlcluster \$$(ls /etc/postgresql) main start"; \
		echo "  macOS:         brew install rabbitmq redis postgresql@16"; \
		echo "                 brew services start rabbitmq redis postgresql@16"; \
		echo "Or skip them: every step runs on the embedded default (WORKSHOP_MODE=auto)."; \
		echo "Then run: make doctor"; \
	fi

step01: setup ## step 1: Flask on :8000 + a Celery worker (Ctrl-C stops both)
	@$(BIN)/python -m workshop run step01 $(PORT_ARG)

step01-broken: setup ## step 1: watch the circular import fail (the ImportError is the lesson)
	@echo "Starting step01_flask_celery/broken: expect an ImportError."
	@! $(BIN)/python -m step01_flask_celery.broken
	@echo
	@echo "flask_app -> views -> tasks -> celery_app -> flask_app: Python was still running"
	@echo "flask_app.py when celery_app.py asked it for create_app. Read the fix in"
	@echo "step01_flask_celery/README.md, then: make step01"

step01-docker: ## step 1 in containers (needs a Docker engine and a .env)
	@$(DOT_ENV)
	$(COMPOSE) --profile step01 up --build

check-step01: setup ## verify the running step 1 hop by hop
	@$(BIN)/python -m workshop check step01 $(PORT_ARG)

step02: setup ## step 2: Nginx :8888 -> Gunicorn -> Flask, 2 workers, Flower :5555
	@$(BIN)/python -m workshop run step02 $(PORT_ARG)

step02-docker: ## step 2 in containers (needs a Docker engine and a .env)
	@$(DOT_ENV)
	$(COMPOSE) --profile step02 up --build

check-step02: setup ## verify the running step 2 hop by hop
	@$(BIN)/python -m workshop check step02 $(PORT_ARG)

step03: setup ## step 3: Django :8003 + a Celery worker + the demo blog :8004 (a scraper)
	@$(BIN)/python -m workshop run step03 $(PORT_ARG)

step03-docker: ## step 3 in containers (needs a Docker engine and a .env)
	@$(DOT_ENV)
	$(COMPOSE) --profile step03 up --build

check-step03: setup ## verify the running step 3 hop by hop (it scrapes the demo blog)
	@$(BIN)/python -m workshop check step03 $(PORT_ARG)

step04: setup ## step 4: FastAPI :8001 + a Celery worker, the canvas page at /canvas
	@$(BIN)/python -m workshop run step04 $(PORT_ARG)

step04-docker: ## step 4 in containers (needs a Docker engine and a .env)
	@$(DOT_ENV)
	$(COMPOSE) --profile step04 up --build

check-step04: setup ## verify the running step 4 hop by hop (a chain, a group, a chord)
	@$(BIN)/python -m workshop check step04 $(PORT_ARG)

exercises: setup ## the exercises, per step, with minutes and where each one stands
	@$(BIN)/python -m workshop exercises

exercise: setup ## start one: make exercise EX=01.1 (FORCE=1: over uncommitted edits)
	@test -n "$(EX)" || { echo "Usage: make exercise EX=01.1 (make exercises lists them)"; exit 2; }
	@$(BIN)/python -m workshop exercise $(EX) $(if $(FORCE),--force)

verify: setup ## verify the current exercise (or EX=01.1): its tests, its live checks
	@$(BIN)/python -m workshop verify $(EX)

hint: setup ## the next hint of the current exercise (or EX=01.1)
	@$(BIN)/python -m workshop hint $(EX)

solution: setup ## the solution back in the lesson files, with the diff of your attempt
	@$(BIN)/python -m workshop solution $(EX)

watch: setup ## verify the current exercise again at every save (Ctrl-C stops)
	@$(BIN)/python -m workshop watch $(EX)

exercises-reset: setup ## for instructors: every lesson file back to its solution
	@$(BIN)/python -m workshop exercises reset

ps: setup ## the running step's processes: masters, workers, pools
	@$(BIN)/python -m workshop ps $(STEP)

trace: setup ## one step-2 request hop by hop: make trace ID=<task_id>
	@test -n "$(ID)" || { echo "Usage: make trace ID=<task_id>"; exit 2; }
	@$(BIN)/python -m workshop trace $(ID) $(STEP_ARG)

live: setup ## a projector view of the running step 2 on :8870: requests crossing the hops (ROOM=1: the room)
	@$(BIN)/python -m workshop live $(if $(ROOM),--room)

stress: setup ## load the running step: N requests, C at a time (step 2: TARGET=gunicorn)
	@$(BIN)/python -m workshop stress -n $(N) -c $(C) $(if $(TARGET),--target $(TARGET)) \
		$(STEP_ARG) $(PORT_ARG)

bench: setup ## what each hop of step 2 costs, in rounds (QUICK=1: one; VARIANTS=1: worker settings too)
	@$(BIN)/python -m workshop bench $(if $(QUICK),--quick) $(if $(VARIANTS),--variants)

demo: setup ## for instructors: step 2 and its live view, 50 requests, a worker killed, stop
	@$(BIN)/python -m workshop demo $(STEP_ARG) $(PORT_ARG)

faults: setup ## break a step under load (step 2; STEP=step03, step04: chords): anything lost?
	@$(BIN)/python -m workshop faults $(STEP_ARG)

room: setup ## for instructors: RabbitMQ ready for the room as a cluster; prints what learners type
	@$(BIN)/python -m workshop room

join: setup ## for learners: your worker in the room: make join ROOM=amqp://... NAME=alice
	@test -n "$(ROOM)" -a -n "$(NAME)" || { echo "Usage: make join ROOM=<the URL make room printed> NAME=<your name>"; exit 2; }
	@$(BIN)/python -m workshop join '$(ROOM)' '$(NAME)' $(if $(CONCURRENCY),--concurrency '$(CONCURRENCY)')

room-send: setup ## for instructors: N tasks to the room (SECONDS each), then who ran them, lost
	@$(BIN)/python -m workshop room-send -n $(N) --seconds $(SECONDS)

room-close: setup ## for instructors: delete the room's virtual host, queue and user
	@$(BIN)/python -m workshop room-close

notebooks: setup ## open the notebooks in Jupyter Lab on :8890 (one request taken apart, hop by hop)
	$(BIN)/jupyter lab --port 8890 --notebook-dir notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

notebooks-html: setup ## run every notebook, write HTML copies with their plots to build/notebooks/
	@$(BIN)/python -m workshop notebooks-html

slides: setup $(NODE_STAMP) ## build the instructor decks to build/slides/*.html (offline, code from the repo)
	@$(BIN)/python -m workshop slides --out $(SLIDES_OUT)

slides-pdf: setup $(NODE_STAMP) ## the decks as PDFs too, printed by Debian's Chromium: build/slides/*.pdf
	@$(BIN)/python -m workshop slides --pdf --out $(SLIDES_OUT)

# Like the Python stamp: `npm ci` again whenever package.json or its lock file changes. No
# package may download a browser (--ignore-scripts): the PDFs use the system's Chromium.
$(NODE_STAMP): slides/package.json slides/package-lock.json
	@command -v npm >/dev/null || { echo "npm is not installed: sudo apt-get install nodejs npm" \
		"(macOS: brew install node); .ci/run installs them."; exit 1; }
	cd slides && PUPPETEER_SKIP_DOWNLOAD=true npm ci --ignore-scripts --no-audit --no-fund
	@touch $(NODE_STAMP)

# Three pytest processes on two cores: most of a test's time is spent waiting for the processes
# it started (README, Tests).
test: setup ## run the test suite (real services when present; `make services` to start them)
	$(BIN)/python -m pytest -n 3 --dist loadgroup

# What CI runs on the other Pythons it finds (.ci/run): every step's round trip (its check), the
# notebooks, and what depends on the interpreter (colours, make doctor).
TEST_QUICK := tests/notebooks tests/workshop/test_settings.py \
	tests/step01/test_processes.py::test_make_step01_launcher_runs_the_procfile_and_ctrl_c_stops_everything \
	tests/step02/test_tools.py::test_check_step02_passes_hop_by_hop \
	tests/step03/test_stack.py::test_check_step03_passes_on_the_running_step \
	tests/step04/test_processes.py::test_check_step04_passes_and_fails_with_a_hint_when_the_worker_is_stopped

test-quick: setup ## a quicker part of the tests: every step's round trip, the notebooks
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(TEST_QUICK)

test-docker: setup ## every compose profile for real on local stand-in images: up, healthy, checked, down
	@$(BIN)/python -m workshop test-docker --compose "$(COMPOSE)"

lint: setup ## ruff: lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean: ## remove run-time files (.run/, build/) and caches; `rm -rf .venv` resets everything
	rm -rf .run build .pytest_cache .ruff_cache *.egg-info
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
