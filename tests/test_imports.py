"""Imports without side effects: truth inference and the data tools stay torch-free,
``import mmmulti`` registers nothing, and registries import components lazily."""
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_python(code: str) -> str:
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize('module', ['mmmulti', 'mmmulti.fusion', 'mmmulti.io',
                                    'mmmulti.structures', 'mmmulti.simulation',
                                    'mmmulti.fusion.pipeline'])
def test_light_modules_load_neither_torch_nor_mmdet(module):
    loaded = run_python(f'import sys, {module}; '
                        "print(sorted(m for m in ('torch', 'mmdet', 'mmcv') "
                        'if m in sys.modules))')
    assert loaded == '[]', f'{module} loaded {loaded}'


def test_import_mmmulti_changes_no_checkpoint_loader():
    # mmengine's local-file loader stays mmengine's until a run is set up
    code = ('import mmengine.runner.checkpoint as c; before = c.CheckpointLoader._schemes[""]; '
            'import mmmulti, mmmulti.models, mmmulti.engine; '
            'print(c.CheckpointLoader._schemes[""] is before); '
            'from mmmulti.utils.setup_env import setup_run; setup_run(); '
            'print(c.CheckpointLoader._schemes[""].__module__)')
    same, after = run_python(code).splitlines()
    assert same == 'True' and after == 'mmmulti.utils.checkpoint'


def test_registry_imports_mmmulti_and_mmdet_components_lazily():
    # a fresh process: nothing imported but the registry module
    code = ('from mmengine.registry import DefaultScope; from mmmulti.registry import MODELS; '
            "scope = DefaultScope.get_instance('t', scope_name='mmmulti'); "
            "head = MODELS.get('YOLOv5Head'); det = MODELS.get('SingleStageDetector'); "
            'print(head.__module__, det.__module__)')
    assert run_python(code) == ('mmmulti.models.dense_heads.yolov5_head '
                                'mmdet.models.detectors.single_stage')


def test_fuse_tool_help_does_not_load_torch():
    code = ('import runpy, sys; sys.argv = ["fuse_annotations.py", "--help"]\n'
            'try:\n    runpy.run_path("tools/fuse_annotations.py", run_name="__main__")\n'
            'except SystemExit:\n    pass\n'
            "print('torch' in sys.modules)")
    assert run_python(code).splitlines()[-1] == 'False'
