# The two commands of the README: `make demo` and `make test`. Everything else is a step of them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
DEMO_PORT := 8787
DEMO_DIR := .demo
export PULUMI_SKIP_UPDATE_CHECK := true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION := true
# The state of the checkout's own stacks (git-ignored); a site points these at its backend.
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_CONFIG_PASSPHRASE ?=
PULUMI := bash tools/pulumi.sh
# The local cloud's credentials, written by `make devcloud`.
export OS_CLIENT_CONFIG_FILE := $(CURDIR)/.devcloud/clouds.yaml

.PHONY: demo test lint preview unit integration system venv tools devcloud devcloud-stop \
	devcloud-nova demo-images image-server image-server-stop s3-server

demo: system venv tools devcloud image-server ## set everything up, then `pulumi up` the dev stack
	mkdir -p .pulumi-state
	$(PULUMI) stack select --create dev
	$(PULUMI) up --yes --stack dev
	@echo "imageIds of stack dev:"
	@$(PULUMI) stack output imageIds --stack dev --json

test: system venv tools devcloud lint ## the whole suite: unit, real-tool and integration tests
	venv/bin/python -m pytest -q

lint: venv
	venv/bin/ruff check .
	venv/bin/ruff format --check .
	bash tools/actionlint.sh

preview: system venv tools ## pulumi preview --diff of each site stack: make preview STACKS="dev example-site"
	bash tools/preview.sh $(STACKS)

unit: venv
	venv/bin/python -m pytest -q tests/unit

integration: system venv tools devcloud
	venv/bin/python -m pytest -q tests/integration

system:
	bash tools/system-packages.sh

# The program's bytecode, written once here: every pass of an `up` (two) and the dynamic provider
# import it, and where PYTHONDONTWRITEBYTECODE is set (CI images) each would compile it anew.
venv: venv/.installed
	venv/bin/python -m compileall -q components
venv/.installed: requirements.txt
	$(PYTHON) -m venv venv
	venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

tools: ## the Pulumi CLI, its Python language host and the openstack provider plugin
	bash tools/toolchain.sh >/dev/null

devcloud: system
	bash devcloud/devcloud.sh start

devcloud-nova: system ## the local cloud plus Nova, Placement, Neutron and RabbitMQ (on demand)
	bash devcloud/devcloud.sh start nova

.PHONY: devcloud-cinder
devcloud-cinder: system ## the local cloud plus Cinder (fake volume driver) and RabbitMQ (on demand)
	bash devcloud/devcloud.sh start cinder

devcloud-stop:
	bash devcloud/devcloud.sh stop

demo-images: system
	bash demo/make_images.sh $(DEMO_DIR)/images http://127.0.0.1:$(DEMO_PORT)

image-server: demo-images venv
	PYTHON=venv/bin/python bash demo/serve.sh start $(DEMO_DIR) $(DEMO_PORT)

image-server-stop:
	bash demo/serve.sh stop $(DEMO_DIR) $(DEMO_PORT)

s3-server: ## MinIO on 127.0.0.1:9000 for the s3:// state backend (built once); not part of demo
	bash tools/s3server.sh start
