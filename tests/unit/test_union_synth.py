"""The union mapping built from rendered synthetic faces is semantically right (issue acceptance)."""

import numpy as np
import pytest

from cmhm.landmarks.markups import IBUG68, PROFILE39
from cmhm.landmarks.union import mapping_from_tables
from cmhm.synth import SynthConfig, generate_images

VISIBLE = {"brow": "brow_right", "eye": "eye_right"}  # a right-facing profile shows the subject's right side


@pytest.fixture(scope="module")
def train_table(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    cfg = SynthConfig(image_size=96, occluder_prob=0.0)
    return generate_images(out, n=90, seed=3, shard=0, n_shards=1, cfg=cfg, prefix="train")


def test_constrained_mapping_matches_parts_on_the_visible_side(train_table):
    um = mapping_from_tables([train_table], frontal_max_yaw=20, profile_min_yaw=55)
    right = um.mapping["right"]
    fg = IBUG68.group_of()
    x_mean = um.mean_frontal[:, 0]
    hidden = x_mean > x_mean[IBUG68.flip_permutation()]
    for group, idx in PROFILE39.groups.items():
        targets = right[list(idx)]
        assert set(fg[targets]) == {VISIBLE.get(group, group)}, (group, targets)
        if group != "jaw":  # 12 contour points cannot all fit on the 9 visible jaw points
            assert not hidden[targets].any(), (group, targets)
    contour = right[list(PROFILE39.groups["jaw"])]
    assert (~hidden[contour]).sum() == 9
    assert np.all(np.diff(contour) > 0), contour  # in order along the jaw, ear to chin and past it
    np.testing.assert_array_equal(um.mapping["left"], IBUG68.flip_permutation()[right])


def test_unknown_yaw_uses_the_view_label_and_no_profiles_fall_back(train_table):
    from dataclasses import replace

    from cmhm.landmarks.markups import profile_semantic_mapping

    no_pose = replace(train_table, index=train_table.index.assign(yaw=np.nan))
    um = mapping_from_tables([no_pose], frontal_max_yaw=20, profile_min_yaw=55)
    assert len(set(um.mapping["right"])) == PROFILE39.n_points
    semi = train_table.index["view"].to_numpy() == "semifrontal"
    frontal_only = replace(
        train_table,
        index=train_table.index[semi].reset_index(drop=True),
        arrays={k: v[semi] for k, v in train_table.arrays.items()},
        extra={},
    )
    um = mapping_from_tables([frontal_only], frontal_max_yaw=20, profile_min_yaw=55)
    np.testing.assert_array_equal(um.mapping["right"], profile_semantic_mapping()["right"])
