"""OpenCV's bicubic warpAffine in fixed point: the properties it must keep (the pixel-for-pixel
comparison with OpenCV 4.8 is in test_randaugment.py, through the geometric ops)."""

from __future__ import annotations

import math

import torch

from bench.data import warp as W

FILL = (114, 123, 125)


def noise(b: int = 3, h: int = 12, w: int = 17) -> torch.Tensor:
    return torch.randint(0, 256, (b, 3, h, w), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)


def test_every_weight_set_sums_to_one_and_whole_positions_take_one_pixel() -> None:
    table = W.cubic_table()
    assert table.shape == (W.INTER_TAB_SIZE**2, 16)
    assert torch.all(table.sum(1) == W.COEF_SCALE)
    assert table[0].tolist() == [0] * 5 + [W.COEF_SCALE] + [0] * 10  # fx = fy = 0: tap (1, 1) only


def test_the_identity_and_whole_pixel_shifts_move_pixels_exactly() -> None:
    x = noise()
    assert torch.equal(W.warp_affine(x, [W.translation(0.0, True)] * 3, FILL), x)
    right = W.warp_affine(x, [W.translation(3.0, True)] * 3, FILL)
    assert torch.equal(right[..., 3:], x[..., :-3])
    assert torch.equal(
        right[..., :3], torch.tensor(FILL, dtype=torch.uint8).view(1, 3, 1, 1).expand(3, 3, 12, 3)
    )
    up = W.warp_affine(x, [W.translation(-2.0, False)] * 3, FILL)
    assert torch.equal(up[:, :, :-2], x[:, :, 2:])


def test_a_flat_image_stays_flat_under_any_warp() -> None:
    """The weights sum to exactly 1 in fixed point, so a constant (filled with itself) is kept."""
    x = torch.full((4, 3, 16, 16), 200, dtype=torch.uint8)
    matrices = [
        W.rotation(23.7, 16, 16),
        W.shear(-0.27, True),
        W.shear(0.11, False),
        W.translation(5.3, True),
    ]
    assert torch.equal(W.warp_affine(x, matrices, (200, 200, 200)), x)


def test_each_image_gets_its_own_matrix() -> None:
    x = noise(b=2)
    both = W.warp_affine(x, [W.rotation(15.0, 12, 17), W.shear(0.2, True)], FILL)
    assert torch.equal(both[0], W.warp_affine(x[:1], [W.rotation(15.0, 12, 17)], FILL)[0])
    assert torch.equal(both[1], W.warp_affine(x[1:], [W.shear(0.2, True)], FILL)[0])


def test_inverse_undoes_the_forward_matrix() -> None:
    m = W.rotation(-17.5, 224, 224)
    i = W.inverse(m)
    x, y = 31.0, 190.0
    fx, fy = m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]
    assert math.isclose(i[0] * fx + i[1] * fy + i[2], x) and math.isclose(i[3] * fx + i[4] * fy + i[5], y)
    # a positive angle turns clockwise: the top-centre pixel goes to the right-centre
    top = W.rotation(90.0, 9, 9)
    assert round(top[0] * 4 + top[1] * 0 + top[2]) == 8 and round(top[3] * 4 + top[4] * 0 + top[5]) == 4
