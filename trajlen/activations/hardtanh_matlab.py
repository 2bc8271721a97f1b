"""The authors' MATLAB ``Htanh.m`` applied to a whole layer (SPEC §1b).

``if x>=1 … elseif x<=-1 … else y = x`` on a vector: MATLAB takes ``if`` on a vector as true only when
*every* element is true, so the layer is all ones if every unit is ≥ 1, all −1 if every unit is ≤ −1,
and unchanged otherwise. It is a function of the whole layer: ``sat`` is the layer's saturation
(+1 all up, −1 all down, 0 neither), from :func:`up` and :func:`down` over the layer.
"""

from .._xp import jitable, where

NAME = "hardtanh_matlab"
KINKS: tuple[float, ...] = ()
LAYERWISE = True


@jitable
def up(p):
    """Does a unit count towards the layer saturating at +1?"""
    return p >= 1.0


@jitable
def down(p):
    return p <= -1.0


@jitable
def phi(p, sat):
    return where(sat > 0.0, 1.0, where(sat < 0.0, -1.0, p))


@jitable
def dphi(p, sat):
    # a saturated layer is constant, otherwise the identity (0·p keeps p's shape)
    return where(sat != 0.0, 0.0 * p, 1.0 + 0.0 * p)
