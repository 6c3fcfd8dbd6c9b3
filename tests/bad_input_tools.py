"""Helpers of the bad-input tests of the tools (tests/test_bad_input_<tool>.py).

Small inputs written by hand, and the tools run in-process through their
``main(argv)`` (a subprocess per run costs seconds of imports).
"""
import hashlib
import importlib.util
import json
import os.path as osp
import sys

from conftest import REPO

_TOOLS = {}


def load_tool(rel_path: str):
    """The module of ``tools/...py`` (imported once per test session)."""
    if rel_path not in _TOOLS:
        name = 'tool_' + rel_path.replace('/', '_')[:-3]
        spec = importlib.util.spec_from_file_location(name, osp.join(REPO, rel_path))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _TOOLS[rel_path] = mod
    return _TOOLS[rel_path]


def _rebind_log_streams() -> None:
    """Point mmengine's logger at the current (captured) streams.

    The logger is created once per process with the ``sys.stdout`` of that
    moment; in-process runs under pytest would log to an earlier test's
    closed capture ("I/O operation on closed file"). A subprocess has no
    such problem, so this only makes in-process runs behave like it.
    """
    import logging
    mmengine_logging = sys.modules.get('mmengine.logging.logger')
    if mmengine_logging is None:
        return
    for logger in mmengine_logging.MMLogger._instance_dict.values():
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler:
                # not setStream: it flushes the old, closed stream
                handler.stream = sys.stderr if handler.stream is sys.stderr else sys.stdout


def run(rel_path: str, argv, capsys):
    """``(exit status, stdout, stderr)`` of one in-process run of a tool."""
    capsys.readouterr()
    _rebind_log_streams()
    code = load_tool(rel_path).main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def error_line(err: str) -> str:
    """The tool's error: exactly one ``error:`` line on stderr, no traceback."""
    assert 'Traceback' not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith('error:')]
    assert len(lines) == 1, err
    return lines[0]


def refused(rel_path, argv, capsys, *fragments):
    """Run, expect exit 2 with one error line holding every fragment; return it."""
    code, out, err = run(rel_path, argv, capsys)
    assert code == 2, (code, out, err)
    line = error_line(err)
    for f in fragments:
        assert f in line, (f, line)
    return line


def readers_coco(num_images: int = 2, readers=('R1', 'R2', 'R3')) -> dict:
    """A valid multi-reader COCO dict: on each image every reader drew one
    nodule, shifted by a pixel per reader, and R1 a second, lone box."""
    images, anns = [], []
    for i in range(1, num_images + 1):
        images.append(dict(id=i, file_name=f'{i:06d}.png', width=64, height=64,
                           readers=list(readers)))
        for k, r in enumerate(readers):
            anns.append(dict(id=len(anns) + 1, image_id=i, category_id=1,
                             bbox=[10 + k, 10, 20, 20], reader=r))
        anns.append(dict(id=len(anns) + 1, image_id=i, category_id=2,
                         bbox=[40, 40, 10, 10], reader=readers[0]))
    return dict(images=images, annotations=anns,
                categories=[dict(id=1, name='nodule'), dict(id=2, name='mass')])


def truth_coco(num_images: int = 2) -> dict:
    """The clean boxes of :func:`readers_coco`'s images."""
    src = readers_coco(num_images)
    images = [{k: v for k, v in im.items() if k != 'readers'} for im in src['images']]
    anns = [dict(id=i, image_id=i, category_id=1, bbox=[11, 10, 20, 20], area=400,
                 iscrowd=0) for i in range(1, num_images + 1)]
    return dict(images=images, annotations=anns, categories=src['categories'])


def write_json(path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def md5(path) -> str:
    with open(path, 'rb') as f:
        return hashlib.md5(f.read()).hexdigest()


def write_png(path, size=64) -> None:
    """A grey PNG of ``size`` px (images of :func:`readers_coco`)."""
    import numpy as np
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), 128, np.uint8)).save(path)


def python() -> str:
    return sys.executable
