"""The quality model's training data and verdict calibration (facelens/train)."""

import numpy as np

from facelens.train.quality_dataset import cfp_images, identity
from facelens.train.quality_targets import calibrate_retake


def test_identity_reads_lfw_and_cfp_names():
    assert identity("George_W_Bush/George_W_Bush_0001.jpg") == "George_W_Bush"
    assert identity("Images/014/profile/01.jpg") == "cfp-014"
    assert identity("Images/014/frontal/10.jpg") == "cfp-014"


def test_cfp_training_split_holds_every_photo_of_its_people_only(data_dir):
    cfp = data_dir / "cfp-dev"
    train, held_out = cfp_images(cfp, 1), cfp_images(cfp, 2)
    assert len(train) == len(held_out) == 700  # 50 people x (10 frontal + 4 profile)
    assert {identity(n) for n in train} == {f"cfp-{i:03d}" for i in range(1, 51)}
    assert not {identity(n) for n in train} & {identity(n) for n in held_out}
    assert sum("/profile/" in n for n in train) == 200
    assert all((cfp / n).is_file() for n in train[::35])


def test_retake_cut_is_where_faces_start_failing_half_their_genuine_pairs():
    quality = np.linspace(0, 1, 1001)
    fnmr = np.clip(1 - quality / 0.6, 0, 1)  # genuine pairs fail less as quality rises
    fnmr[::7] = np.nan  # people without another photo carry no FNMR
    # bin [0.25, 0.30) fails 54% of its pairs on average, bin [0.30, 0.35) 46%
    assert calibrate_retake(quality, fnmr) == 0.3
    fnmr[(quality > 0.7) & (quality < 0.71)] = 1.0  # a few failures do not make their bin fail
    assert calibrate_retake(quality, fnmr) == 0.3
    assert calibrate_retake(quality, np.zeros_like(quality)) == 0.0  # nothing fails
