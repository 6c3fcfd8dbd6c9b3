"""Per-box EARL weights carried through mmdet's pipeline inside the labels.

Why this design
---------------
mmdet 3.3 has no per-box weight field. Every transform that drops, reorders
or concatenates boxes (FilterAnnotations, RandomCrop, MinIoURandomCrop,
RandomAffine, Mosaic, CachedMosaic, MixUp, CachedMixUp, RandomCenterCropPad,
RandomErasing, CopyPaste, RandomShift, Albu, ...) re-indexes only the keys
it knows: ``gt_bboxes``, ``gt_bboxes_labels``, ``gt_ignore_flags`` and masks.
A custom key such as ``gt_confidences`` silently falls out of alignment.

Two designs were weighed:

(a) carry the weights *inside* ``gt_bboxes_labels``, which every one of these
    transforms re-indexes (and Mosaic/MixUp concatenate across images), and
    unpack them in :class:`PackMultiReaderInputs`;
(b) subclass each dropping transform under the same name and realign a
    side key.

(a) is used. It covers every transform that treats labels as opaque values,
including users' own transforms and the boxes that Mosaic/MixUp pull from
*other* images (whose side keys (b) would have to fetch from ``mix_results``
in a copy of each transform's body). (b) would need one subclass per mmdet
transform, a re-implementation of their index logic, and would break on the
next transform nobody subclassed.

Packed layout (int64, always non-negative, exact round trip)::

    bits  0..15  class label            (0 .. 65535)
    bits 16..30  agreement               (0 .. 32767 readers)
    bits 31..61  confidence: float32 bit pattern without its sign bit
                 (confidence must be finite and >= 0)
    bit  62      marker, always 1: a packed value is >= 2**62, so a plain
                 label (< 2**62) mixed into packed ones is detected
    bit  63      0 (the value stays a positive int64)

``results[PACKED_FLAG]`` is set by the packing side (``LoadMultiReaderAnnotations``,
``FuseAnnotations``); unpacking happens only when it is set, and a mismatch
between the flag and the marker bits raises instead of training on garbage
labels.

What reads label *values* between loading and packing, and so breaks on
packed labels (checked in mmdet 3.3.0's source): the grounding/GLIP text
transforms ``RandomSamplingNegPos`` and ``LoadTextAnnotations``
(``text_transformers.py``). ``InstaBoost`` runs on ``data_info`` before
``LoadAnnotations``; it rebuilds the instances with only bbox/label/ignore,
so the weights of its output default to 1. None of the transforms above, nor
RandomFlip, Resize, Pad, RandomShift, PhotoMetricDistortion,
YOLOXHSVRandomAug, Expand, CutOut, Corrupt, the RandAugment/AutoAugment
geometric and colour ops or the wrappers (RandomChoice, RandomApply,
RandomOrder, TransformBroadcaster) look at label values. A transform of your
own that needs the weights or the true labels mid-pipeline reads them with
:func:`unpack_box_weights` and writes back with :func:`pack_box_weights`.
"""
from typing import Optional, Tuple

import numpy as np

#: results key set to True when ``gt_bboxes_labels`` holds packed values.
PACKED_FLAG = 'mmmulti_weights_packed'
#: results key: False when the pipeline loads no labels (e.g. RPN,
#: ``LoadMultiReaderAnnotations(with_label=False)``): the packed label bits are 0 and
#: ``PackMultiReaderInputs`` drops the labels again after unpacking.
WITH_LABEL_KEY = 'mmmulti_with_label'

LABEL_BITS = 16
AGREEMENT_BITS = 15
CONFIDENCE_BITS = 31
MAX_LABEL = (1 << LABEL_BITS) - 1
MAX_AGREEMENT = (1 << AGREEMENT_BITS) - 1
_AGREEMENT_SHIFT = LABEL_BITS
_CONFIDENCE_SHIFT = LABEL_BITS + AGREEMENT_BITS
_MARKER = np.int64(1) << np.int64(62)


def pack_labels(labels: np.ndarray, confidences: np.ndarray,
                agreements: np.ndarray) -> np.ndarray:
    """Pack labels, confidences and agreements into one int64 array.

    Raises ``ValueError`` for a value that does not fit (label outside
    0..65535, agreement outside 0..32767, confidence negative or not finite).
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    conf = np.asarray(confidences, dtype=np.float32).reshape(-1)
    agr = np.asarray(agreements, dtype=np.int64).reshape(-1)
    if not (len(labels) == len(conf) == len(agr)):
        raise ValueError('pack_labels: labels, confidences and agreements '
                         f'differ in length ({len(labels)}, {len(conf)}, '
                         f'{len(agr)})')
    if len(labels) and (labels.min() < 0 or labels.max() > MAX_LABEL):
        raise ValueError(f'pack_labels: labels must lie in 0..{MAX_LABEL} '
                         f'to carry weights, got {labels.min()}..'
                         f'{labels.max()}')
    if len(agr) and (agr.min() < 0 or agr.max() > MAX_AGREEMENT):
        raise ValueError(f'pack_labels: agreements must lie in 0..'
                         f'{MAX_AGREEMENT}, got {agr.min()}..{agr.max()}')
    if len(conf) and (not np.isfinite(conf).all() or conf.min() < 0):
        raise ValueError('pack_labels: confidences must be finite and >= 0, '
                         f'got {conf[~np.isfinite(conf) | (conf < 0)][:5]}')
    conf_bits = np.abs(conf).view(np.uint32).astype(np.int64)  # -0.0 -> 0.0
    return (_MARKER | (conf_bits << _CONFIDENCE_SHIFT)
            | (agr << _AGREEMENT_SHIFT) | labels)


def unpack_labels(
        packed: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`pack_labels`: ``(labels, confidences, agreements)``
    as int64, float32, int64."""
    packed = np.asarray(packed, dtype=np.int64).reshape(-1)
    if len(packed) and not (packed & _MARKER).all():
        raise ValueError(
            'unpack_labels: some gt_bboxes_labels are plain labels, not '
            'packed mmmulti weights: a transform replaced or appended labels '
            'that did not come from LoadMultiReaderAnnotations/'
            'FuseAnnotations')
    labels = packed & MAX_LABEL
    agr = (packed >> _AGREEMENT_SHIFT) & MAX_AGREEMENT
    conf_bits = (packed >> _CONFIDENCE_SHIFT) & ((1 << CONFIDENCE_BITS) - 1)
    conf = conf_bits.astype(np.uint32).view(np.float32)
    return labels, conf, agr


def is_packed(results: dict) -> bool:
    """Whether ``results['gt_bboxes_labels']`` holds packed weights.

    Raises when the flag and the labels disagree (packed values without the
    flag), so labels >= 2**62 never reach a model.
    """
    flag = bool(results.get(PACKED_FLAG, False))
    labels = results.get('gt_bboxes_labels', None)
    if not flag and labels is not None and len(labels):
        if (np.asarray(labels, dtype=np.int64) & _MARKER).any():
            raise ValueError(
                'gt_bboxes_labels hold packed mmmulti weights but results '
                f'lack the {PACKED_FLAG!r} flag: a transform rebuilt the '
                'results dict without copying it')
    return flag


def pack_box_weights(results: dict,
                     labels: np.ndarray,
                     confidences: np.ndarray,
                     agreements: np.ndarray,
                     with_label: bool = True) -> dict:
    """Write labels + weights packed into ``results`` and set the flag."""
    results['gt_bboxes_labels'] = pack_labels(labels, confidences, agreements)
    results[PACKED_FLAG] = True
    results[WITH_LABEL_KEY] = with_label
    return results


def unpack_box_weights(
    results: dict
) -> Tuple[Optional[np.ndarray], np.ndarray, np.ndarray]:
    """Current ``(labels, confidences, agreements)`` of ``results``' boxes.

    Works on packed and plain results alike: plain results give the
    ``gt_confidences``/``gt_agreements`` keys when present, else weight 1.
    ``labels`` is None when the pipeline loads no labels.
    """
    n = _num_boxes(results)
    if is_packed(results):
        labels, conf, agr = unpack_labels(results['gt_bboxes_labels'])
        if len(labels) != n:
            raise ValueError(
                f'packed gt_bboxes_labels ({len(labels)}) and gt_bboxes ({n}) '
                'differ in length: a transform dropped boxes but not labels')
        if not results.get(WITH_LABEL_KEY, True):
            labels = None
        return labels, conf, agr
    labels = results.get('gt_bboxes_labels', None)
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int64)
    conf = results.get('gt_confidences', None)
    agr = results.get('gt_agreements', None)
    conf = (np.ones(n, dtype=np.float32) if conf is None else np.asarray(
        conf, dtype=np.float32))
    agr = (np.ones(n, dtype=np.int64)
           if agr is None else np.asarray(agr, dtype=np.int64))
    if not (len(conf) == len(agr) == n):
        raise ValueError(
            f'gt_confidences ({len(conf)}) / gt_agreements ({len(agr)}) are '
            f'not aligned with gt_bboxes ({n})')
    return labels, conf, agr


def _num_boxes(results: dict) -> int:
    if 'gt_bboxes' in results:
        return len(results['gt_bboxes'])
    if 'gt_bboxes_labels' in results:
        return len(results['gt_bboxes_labels'])
    return 0
