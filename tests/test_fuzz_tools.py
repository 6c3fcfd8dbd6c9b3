"""Fuzz every data tool with randomly broken multi-reader files (issue 28).

A valid small multi-reader file (and its truth and predictions) is mutated at
random with a fixed seed: fields deleted, types swapped, values NaN, inf,
negative, huge or strings, records replaced by null. Each tool runs
in-process through its ``main(argv)`` and must end either with exit 0 and a
valid output (JSON, finite boxes and scores) or with exit 2 and one ``error:``
line: never a traceback, an internal error, or a changed input.
"""
import copy
import json
import math
import random

import pytest

from bad_input_tools import md5, readers_coco, run, truth_coco, write_json, write_png

SEED = 28
MUTATIONS = 30  # per tool case; the whole file runs in about 20 s

BAD_VALUES = [None, math.nan, math.inf, -math.inf, -1, 0, 2 ** 70, 1e308, -1e308, '2',
              'abc', '', True, [], {}, [1, 2], [1, 2, 3, 4, 5], 'x' * 1000, 1000.9, 1e-12]


def mutate(data, rng: random.Random):
    """One random damage of a COCO dict (a deep copy): a deleted or retyped field,
    a null or duplicated record, a broken top-level list."""
    data = copy.deepcopy(data)
    lists = [k for k in ('images', 'annotations', 'categories') if isinstance(data.get(k), list)
             and data[k]]
    kind = rng.random()
    if kind < 0.05 or not lists:
        key = rng.choice(['images', 'annotations', 'categories'])
        if rng.random() < 0.5:
            data.pop(key, None)
        else:
            data[key] = rng.choice(BAD_VALUES)
        return data
    records = data[rng.choice(lists)]
    k = rng.randrange(len(records))
    if kind < 0.15:
        records[k] = None
    elif kind < 0.2:
        records.append(copy.deepcopy(records[k]))
    elif isinstance(records[k], dict) and records[k]:
        field = rng.choice(sorted(records[k]))
        if kind < 0.35:
            del records[k][field]
        elif field == 'bbox' and rng.random() < 0.5 and isinstance(records[k][field], list):
            records[k][field][rng.randrange(4)] = rng.choice(BAD_VALUES)
        else:
            records[k][field] = rng.choice(BAD_VALUES)
    return data


def mutate_predictions(preds, rng):
    preds = copy.deepcopy(preds)
    k = rng.randrange(len(preds))
    r = rng.random()
    if r < 0.15:
        preds[k] = None
    elif r < 0.3:
        del preds[k][rng.choice(sorted(preds[k]))]
    elif r < 0.5:
        preds[k]['bbox'][rng.randrange(4)] = rng.choice(BAD_VALUES)
    else:
        preds[k][rng.choice(sorted(preds[k]))] = rng.choice(BAD_VALUES)
    return preds


def finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_output(path) -> None:
    """A written output: JSON; fused COCO and results files with finite boxes and scores.

    (Analysis reports may hold NaN for an undefined value, e.g. a rate of no boxes.)
    """
    with open(path) as f:
        data = json.load(f)
    records = data.get('annotations', []) if isinstance(data, dict) else data
    if not isinstance(records, list):
        return
    for r in records:
        if isinstance(r, dict) and 'bbox' in r:
            values = list(r['bbox']) + [r[k] for k in ('score', 'confidence', 'agreement',
                                                       'area') if k in r]
            assert all(finite(v) for v in values), f'{path}: non-finite box {r}'


def check_run(tool, argv, inputs, outputs, capsys):
    """The fuzz contract of one run (module docstring)."""
    before = {p: md5(p) for p in inputs}
    code, out, err = run(tool, argv, capsys)
    assert {p: md5(p) for p in inputs} == before, f'{tool} changed an input'
    assert 'Traceback' not in err, err
    if code == 0:
        for path in outputs:
            check_output(path)
        return 'ok'
    errors = [ln for ln in err.splitlines() if ln.startswith('error:')]
    assert code == 2 and len(errors) == 1 and 'internal error' not in errors[0], (
        f'{tool} {argv}: exit {code}\n{err}')
    return 'error'


def readers_cases(tmp, src, truth):
    yield 'tools/fuse_annotations.py', [src, tmp / 'wbf.json'], [tmp / 'wbf.json']
    for method in ('nms', 'majority_vote', 'soft_nms', 'presence_wbf', 'all_boxes'):
        out = tmp / f'{method}.json'
        yield 'tools/fuse_annotations.py', [src, out, '--method', method], [out]
    yield ('tools/analysis/reader_agreement.py', [src, '--out-dir', tmp / 'ra'],
           [tmp / 'ra' / 'reader_agreement.json'])
    yield ('tools/analysis/fusion_vs_truth.py',
           [src, truth, '--methods', 'all_boxes', 'wbf', '--out', tmp / 'fvt.json'],
           [tmp / 'fvt.json'])
    yield ('tools/analysis/heldout_reader.py',
           [src, '--methods', 'wbf', '--quiet', '--out', tmp / 'ho'],
           [tmp / 'ho' / 'heldout.json'])
    yield ('tools/analysis/diagnose_readers.py',
           [src, '--bootstrap', 0, '--sim-images', 0, '--no-heldout', '--quiet', '--out',
            tmp / 'dg'], [tmp / 'dg' / 'diagnosis.json'])


READERS_CASES = 10


@pytest.mark.parametrize('case', range(READERS_CASES))
def test_fuzz_readers_file(case, tmp_path, capsys):
    """Broken readers' files through the fusion and agreement tools."""
    rng = random.Random(SEED + case)  # each case its own mutations, in any test order
    base = readers_coco(num_images=3)
    truth = write_json(tmp_path / 'truth.json', truth_coco(num_images=3))
    outcomes = []
    for m in range(MUTATIONS):
        bad = mutate(base, rng)
        src = write_json(tmp_path / f'readers_{m}.json', bad)
        tool, argv, outs = list(readers_cases(tmp_path, src, truth))[case]
        outcomes.append(check_run(tool, argv, [src, truth], outs, capsys))
    assert len(outcomes) == MUTATIONS


def test_fuzz_show_fusion(tmp_path, capsys):
    rng = random.Random(SEED - 1)
    images = tmp_path / 'images'
    for i in (1, 2, 3):
        write_png(images / f'{i:06d}.png')
    base = readers_coco(num_images=3)
    for m in range(6):
        src = write_json(tmp_path / f'r{m}.json', mutate(base, rng))
        out = tmp_path / 'fig.png'
        check_run('tools/analysis/show_fusion.py',
                  [src, '--img-dir', images, '--out', out, '--num', 2], [src], [], capsys)


def test_fuzz_eval_and_ensemble(tmp_path, capsys):
    rng = random.Random(SEED - 2)
    gt_base = truth_coco(num_images=3)
    preds_base = [dict(image_id=i, category_id=1, bbox=[11, 10, 20, 20], score=0.9)
                  for i in (1, 2, 3)]
    clean_gt = write_json(tmp_path / 'gt.json', gt_base)
    clean_preds = write_json(tmp_path / 'preds.json', preds_base)
    seen = set()
    for m in range(MUTATIONS):
        gt = write_json(tmp_path / f'gt{m}.json', mutate(gt_base, rng))
        preds = write_json(tmp_path / f'p{m}.json', mutate_predictions(preds_base, rng))
        seen.add(check_run('tools/analysis/eval_results.py', ['--gt', gt, '--pred', clean_preds],
                           [gt, clean_preds], [], capsys))
        seen.add(check_run('tools/analysis/eval_results.py', ['--gt', clean_gt, '--pred', preds],
                           [clean_gt, preds], [], capsys))
        out = tmp_path / 'fused.json'
        seen.add(check_run('tools/ensemble.py', [preds, clean_preds, '--gt', clean_gt, '--out',
                                                 out, '--no-eval'],
                           [preds, clean_preds, clean_gt], [out], capsys))
    assert seen == {'ok', 'error'}  # the mutations both break and spare files


CSV_HEADER = ['image_id', 'class_name', 'class_id', 'rad_id', 'x_min', 'y_min', 'x_max',
              'y_max', 'width', 'height']
CSV_BAD = ['', 'nan', 'inf', '-1', '1e308', '1_00', 'abc', '100.5', '0', '"', ',']


def test_fuzz_vindr_converter(tmp_path, capsys):
    """Broken VinDr CSV cells and rows through vindr_cxr_to_coco.py."""
    import csv
    rng = random.Random(SEED - 3)
    rows = [[im, 'Nodule/Mass', 8, rad, 10 + k, 10, 30, 30, 100, 100]
            for k, im in enumerate('abc') for rad in ('R1', 'R2', 'R3')]
    for m in range(MUTATIONS):
        bad = copy.deepcopy(rows)
        r = rng.randrange(len(bad))
        if rng.random() < 0.2:
            del bad[r][rng.randrange(len(bad[r]))]
        else:
            bad[r][rng.randrange(len(bad[r]))] = rng.choice(CSV_BAD)
        path = tmp_path / f'in{m}.csv'
        with open(path, 'w', newline='') as f:
            w = csv.writer(f)
            w.writerow(CSV_HEADER)
            w.writerows(bad)
        out = tmp_path / 'out.json'
        check_run('tools/dataset_converters/vindr_cxr_to_coco.py',
                  [path, '--out', out, '--no-progress'], [path], [out], capsys)
