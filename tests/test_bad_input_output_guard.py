"""Every tool that writes files goes through the output guard (issue 28, data loss).

For each tool: the output named as an input (directly, through a symlink,
``..`` or a hard link), an output that is a FIFO, and, where the tool reads
a folder, an output inside it, are refused with one error line and exit 2,
the inputs unchanged; ``--overwrite`` allows the first (not the FIFO).
"""
import csv
import os

import pytest

from bad_input_tools import (error_line, md5, readers_coco, refused, run, truth_coco,
                             write_json, write_png)
from conftest import write_protocol_results


def _csv(path):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['image_id', 'class_name', 'class_id', 'rad_id', 'x_min', 'y_min',
                    'x_max', 'y_max', 'width', 'height'])
        w.writerow(['a', 'Nodule/Mass', 8, 'R1', 10, 10, 30, 30, 100, 100])
        w.writerow(['a', 'Nodule/Mass', 8, 'R2', 11, 10, 30, 30, 100, 100])
    return str(path)


# name -> (tool, setup(tmp) -> (input file the output collides with, argv(out)))
# For a tool writing into a folder, ``out`` is one of the files it writes there
# and argv gets that file's folder.
def _fuse(tmp):
    src = write_json(tmp / 'readers.json', readers_coco())
    return src, lambda out: [src, out]


def _fusion_vs_truth(tmp):
    src = write_json(tmp / 'readers.json', readers_coco())
    truth = write_json(tmp / 'truth.json', truth_coco())
    return truth, lambda out: [src, truth, '--methods', 'wbf', '--out', out]


def _reader_agreement(tmp):
    src = write_json(tmp / 'reader_agreement.json', readers_coco())
    return src, lambda out: [src, '--out-dir', os.path.dirname(out)]


def _show_fusion(tmp):
    src = write_json(tmp / 'readers.json', readers_coco())
    for i in (1, 2):
        write_png(tmp / 'images' / f'{i:06d}.png')
    return src, lambda out: [src, '--img-dir', tmp / 'images', '--out', out, '--num', 1]


def _merge_runs(tmp):
    run_dir = write_protocol_results(tmp / 'run', [('baseline', 0, 0.5, 0.3, 1.0),
                                                   ('wbf_earl', 0, 0.6, 0.4, 1.0)])
    src = str(run_dir / 'results.csv')
    return src, lambda out: [run_dir, '--out', os.path.dirname(out)]


def _heldout(tmp):
    src = write_json(tmp / 'heldout.json', readers_coco())
    return src, lambda out: [src, '--methods', 'wbf', '--quiet', '--out',
                             os.path.dirname(out)]


def _diagnose(tmp):
    src = write_json(tmp / 'diagnosis.json', readers_coco())
    return src, lambda out: [src, '--bootstrap', 0, '--sim-images', 0, '--no-heldout',
                             '--quiet', '--out', os.path.dirname(out)]


def _ensemble(tmp):
    gt = write_json(tmp / 'gt.json', truth_coco())
    preds = write_json(tmp / 'preds.json', [dict(image_id=1, category_id=1,
                                                  bbox=[11, 10, 20, 20], score=0.9)])
    return preds, lambda out: [preds, '--gt', gt, '--out', out, '--no-eval']


def _vindr(tmp):
    src = _csv(tmp / 'train.csv')
    return src, lambda out: [src, '--out', out, '--no-progress']


def _test(tmp):
    ckpt = tmp / 'model.pkl'
    ckpt.write_bytes(b'not read: the output check comes first')
    return str(ckpt), lambda out: ['configs/tiny/retinanet_tiny_med_mnist.py', ckpt,
                                   '--out', out]


TOOLS = {
    'fuse_annotations': ('tools/fuse_annotations.py', _fuse),
    'fusion_vs_truth': ('tools/analysis/fusion_vs_truth.py', _fusion_vs_truth),
    'reader_agreement': ('tools/analysis/reader_agreement.py', _reader_agreement),
    'show_fusion': ('tools/analysis/show_fusion.py', _show_fusion),
    'merge_runs': ('tools/analysis/merge_runs.py', _merge_runs),
    'heldout_reader': ('tools/analysis/heldout_reader.py', _heldout),
    'diagnose_readers': ('tools/analysis/diagnose_readers.py', _diagnose),
    'ensemble': ('tools/ensemble.py', _ensemble),
    'vindr_cxr_to_coco': ('tools/dataset_converters/vindr_cxr_to_coco.py', _vindr),
    'test': ('tools/test.py', _test),
}


FILE_OUTPUT = {'fuse_annotations', 'fusion_vs_truth', 'show_fusion', 'ensemble',
               'vindr_cxr_to_coco', 'test'}


@pytest.mark.parametrize('name', sorted(TOOLS))
def test_output_that_is_an_input_is_refused(name, tmp_path, capsys):
    tool, setup = TOOLS[name]
    src, argv = setup(tmp_path)
    before = md5(src)
    (tmp_path / 'sub').mkdir()
    link = tmp_path / ('link' + os.path.splitext(str(src))[1])
    os.symlink(src, link)
    hard = tmp_path / 'sub' / os.path.basename(src)
    os.link(src, hard)
    dotdot = tmp_path / 'sub' / '..' / os.path.relpath(src, tmp_path)
    outs = [src, dotdot, hard]
    if name in FILE_OUTPUT:  # the folder tools write fixed names, not 'link'
        outs.append(link)
    # diagnose_readers words it as "would replace the input file" (its own check)
    fragments = ['input file'] if name == 'diagnose_readers' else ['is the input',
                                                                  '--overwrite']
    for out in outs:
        refused(tool, argv(out), capsys, *fragments)
        assert md5(src) == before


@pytest.mark.parametrize('name', sorted(TOOLS))
def test_output_that_is_a_fifo_is_refused(name, tmp_path, capsys):
    tool, setup = TOOLS[name]
    src, argv = setup(tmp_path)
    before = md5(src)
    (tmp_path / 'outdir').mkdir()
    fifo = tmp_path / 'outdir' / os.path.basename(src)
    if name in ('merge_runs',):
        fifo = tmp_path / 'outdir' / 'results.md'
    os.mkfifo(fifo)
    for overwrite in ([], ['--overwrite']):
        if name == 'test' and overwrite:
            continue  # tools/test.py has no --overwrite
        line = refused(tool, argv(fifo) + overwrite, capsys, 'a FIFO', 'not a regular file')
        assert str(fifo) in line
    assert os.path.exists(fifo) and not os.path.isfile(fifo)  # still the FIFO
    assert md5(src) == before


def test_fuse_annotations_leaves_dev_null_alone(tmp_path, capsys):
    src, argv = _fuse(tmp_path)
    refused('tools/fuse_annotations.py', argv('/dev/null'), capsys, 'a character device')
    assert not os.path.isfile('/dev/null')


def test_overwrite_allows_replacing_the_input_on_purpose(tmp_path, capsys):
    src, argv = _fuse(tmp_path)
    code, _, err = run('tools/fuse_annotations.py', argv(src) + ['--overwrite'], capsys)
    assert code == 0, err


def test_figure_inside_the_image_folder_is_refused(tmp_path, capsys):
    src, argv = _show_fusion(tmp_path)
    image = tmp_path / 'images' / '000001.png'
    before = md5(image)
    for out in (image, tmp_path / 'images' / 'new_figure.png'):
        refused('tools/analysis/show_fusion.py', argv(out), capsys, 'inside the input folder')
    assert md5(image) == before and not (tmp_path / 'images' / 'new_figure.png').exists()


def test_png_out_equal_to_the_source_images_is_refused(tmp_path, capsys):
    src = _csv(tmp_path / 'train.csv')
    images = tmp_path / 'images'
    write_png(images / 'a.png', size=100)
    before = md5(images / 'a.png')
    for png_out in (images, images / 'sub'):
        refused('tools/dataset_converters/vindr_cxr_to_coco.py',
                [src, '--images', images, '--png-out', png_out, '--max-size', 50,
                 '--out', tmp_path / 'o.json', '--no-progress'],
                capsys, '--png-out', 'inside the input folder')
    assert md5(images / 'a.png') == before


def test_make_med_mnist_out_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / 'readers.json'
    f.write_text('{}')
    refused('tools/dataset_converters/make_med_mnist.py', ['--out', f, '--no-progress'],
            capsys, 'is a file, not a folder')
    assert f.read_text() == '{}'


def test_merge_into_an_input_run_keeps_its_rows(tmp_path, capsys):
    a = write_protocol_results(tmp_path / 'a', [('baseline', s, 0.5, 0.3, 1.0)
                                                for s in range(3)]
                               + [('wbf_earl', s, 0.6, 0.4, 1.0) for s in range(3)])
    before = md5(a / 'results.csv')
    line = refused('tools/analysis/merge_runs.py', [a, '--out', a, '--arms', 'baseline'],
                   capsys, 'is the input file')
    assert 'results.csv' in line and md5(a / 'results.csv') == before


def test_results_table_refuses_a_readme_that_is_a_fifo(tmp_path, capsys):
    """results_table rewrites its README in place by design (its blocks are
    generated), but a FIFO or device there is refused before it is read."""
    from conftest import REPO
    fifo = tmp_path / 'README.md'
    os.mkfifo(fifo)
    line = refused('tools/analysis/results_table.py',
                   [os.path.join(REPO, 'docs', 'results'), '--write-readme', fifo],
                   capsys, 'a FIFO', 'not a regular file')
    assert str(fifo) in line and not os.path.isfile(fifo)


def test_atomic_write_refuses_a_special_file(tmp_path):
    from mmmulti.utils.atomic import NotRegularFileError, dump_json_atomic
    fifo = tmp_path / 'f'
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFileError, match='not a regular file'):
        dump_json_atomic({}, fifo)
    assert not os.path.isfile(fifo)


def test_guard_unit_cases(tmp_path):
    from mmmulti.utils.output_guard import (UnsafeOutputError, check_output_dir,
                                            check_output_file, is_inside, is_same_file)
    a = tmp_path / 'a.json'
    a.write_text('x')
    os.link(a, tmp_path / 'b.json')
    assert is_same_file(a, tmp_path / 'b.json')
    assert not is_same_file(a, tmp_path / 'new.json')
    assert is_inside(tmp_path / 'x' / 'y', tmp_path) and not is_inside('/tmpx', '/tmp')
    check_output_file(tmp_path / 'new.json', [a])  # a new file is fine
    check_output_file(a, [tmp_path / 'other.json'])  # an existing regular file is fine
    with pytest.raises(UnsafeOutputError, match='a directory'):
        check_output_file(tmp_path, [a], overwrite=True)
    with pytest.raises(UnsafeOutputError, match='is a file, not a folder'):
        check_output_dir(a)
    with pytest.raises(UnsafeOutputError, match='is the input file'):
        check_output_dir(tmp_path, ['a.json'], [tmp_path / 'b.json'])
    check_output_dir(tmp_path, ['a.json'], [tmp_path / 'b.json'], overwrite=True)


def test_every_writing_tool_is_in_this_test():
    """A new tool that writes files must join TOOLS (or say why not here)."""
    import glob
    import re
    here = {t for t, _ in TOOLS.values()}
    elsewhere = {  # tested in this file's other tests, or writes no file
        'tools/dataset_converters/make_med_mnist.py', 'tools/analysis/compare_arms.py',
        'tools/analysis/eval_results.py', 'tools/analysis/count_params.py',
        'tools/train.py', 'tools/run_protocol.py', 'tools/run_study.py',
        'tools/analysis/results_table.py'}
    from conftest import REPO
    for path in sorted(glob.glob(os.path.join(REPO, 'tools', '**', '*.py'), recursive=True)):
        rel = os.path.relpath(path, REPO)
        assert rel in here | elsewhere, f'{rel}: add it to TOOLS'
        text = open(path).read()
        if rel in here:
            assert re.search(r'check_output_(file|dir)|cli\.test', text), rel
