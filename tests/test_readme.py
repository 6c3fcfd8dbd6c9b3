"""Every command the README shows runs: each tool answers --help and knows every flag
the README gives it, the configs and files it names exist, the Python snippets compile,
the local links resolve, and the test command is the one CI runs."""
import os.path as osp
import re
import shlex
import subprocess
import sys
from functools import lru_cache

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
README = open(osp.join(ROOT, 'README.md')).read()
# folders a user creates (data, runs) or brings (the VinDr-CXR download), not the repository's
USER_PATHS = ('data/', 'work_dirs/', 'vindr/')


def code_blocks(text: str, lang: str):
    return re.findall(rf'```{lang}\n(.*?)```', text, flags=re.S)


def commands(text: str):
    """The shell commands of the ``bash`` blocks: continuations joined, comments and
    ``&&`` chains split."""
    out = []
    for block in code_blocks(text, 'bash'):
        for line in block.replace('\\\n', ' ').splitlines():
            line = line.split(' #')[0].strip()
            if line and not line.startswith('#'):
                out += [c.strip() for c in line.split('&&')]
    return out


CMDS = commands(README)


def tool_of(argv):
    """The tool file a command runs and the arguments it gets."""
    if argv[0] == 'python' and argv[1] != '-m':
        return argv[1], argv[2:]
    if argv[0] == 'bash':
        return argv[1], argv[2:]
    return None, argv


@lru_cache(maxsize=None)
def help_text(tool: str) -> str:
    out = subprocess.run([sys.executable, tool, '--help'], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, f'{tool} --help: {out.stderr[-2000:]}'
    return out.stdout


def test_readme_is_short_and_has_no_commit_hashes():
    assert len(README.splitlines()) <= 300
    for doc in ('README.md', 'CHANGELOG.md'):
        text = open(osp.join(ROOT, doc)).read()
        hashes = [w for w in re.findall(r'\b[0-9a-f]{7,40}\b', text)
                  if re.search('[a-f]', w) and re.search('[0-9]', w)]
        assert not hashes, (doc, hashes)
    dates = re.findall(r'^## (\d{4}-\d\d-\d\d)$', open(osp.join(ROOT, 'CHANGELOG.md')).read(),
                       flags=re.M)
    assert dates and dates == sorted(dates, reverse=True)  # dated, newest first


def test_test_command_is_what_ci_runs():
    ci = [line for line in open(osp.join(ROOT, '.ci', 'run')).read().splitlines()
          if line and not line.startswith(('#', 'set ', 'cd '))]
    assert ci == ['bash tools/install.sh && python -m pytest -m "not slow" -q']
    assert '```bash\n' + ci[0] + '\n```' in README
    assert '```bash\nbash tools/install.sh && python tools/run_protocol.py --scale quick\n```' \
        in README


@pytest.mark.parametrize('cmd', [c for c in CMDS if tool_of(shlex.split(c))[0]
                                 and tool_of(shlex.split(c))[0].endswith('.py')])
def test_python_tool_commands(cmd):
    """The tool exists, --help works, every --flag given is one it lists, and every
    repository path named exists."""
    tool, args = tool_of(shlex.split(cmd))
    assert osp.isfile(osp.join(ROOT, tool)), tool
    text = help_text(tool)
    for arg in args:
        if arg.startswith('--'):
            assert re.search(rf'{re.escape(arg.split("=")[0])}\b', text), (cmd, arg)
        elif '/' in arg and not arg.startswith(USER_PATHS):
            assert osp.exists(osp.join(ROOT, arg)), (cmd, arg)


def test_every_command_is_checked():
    """Each command runs a tool of the repository (python or bash), or pytest."""
    for cmd in CMDS:
        argv = shlex.split(cmd)
        tool, _ = tool_of(argv)
        if tool is None:
            assert argv[:3] == ['python', '-m', 'pytest'], cmd
        else:
            assert osp.isfile(osp.join(ROOT, tool)), cmd


def test_python_snippets_compile():
    blocks = code_blocks(README, 'python')
    assert blocks
    for block in blocks:
        compile(block, 'README.md', 'exec')


def test_configs_named_exist():
    names = set(re.findall(r'`(configs/[^`*{]+\.py)`', README))
    assert len(names) > 5
    for name in names:
        assert osp.isfile(osp.join(ROOT, name)), name
    # the short names of the configs table, beside their folder
    for row in re.findall(r'^\| `configs/[^|]*\|', README, flags=re.M):
        for short in re.findall(r'`([a-z0-9_]+\.py)`', row):
            assert osp.isfile(osp.join(ROOT, 'configs', short)), short
    for scale in re.search(r'protocol scales: ([^|]*)\|', README)[1].split(','):
        for name in re.findall(r'`(\w+)`', scale):
            assert osp.isfile(osp.join(ROOT, 'configs', 'protocol', f'{name}.py')), name


@pytest.mark.parametrize('doc', ['README.md', 'docs/results/README.md', 'docs/guide_install.md',
                                 'docs/guide_data_fusion.md', 'docs/guide_training.md',
                                 'docs/guide_protocol.md', 'docs/guide_results.md'])
def test_local_links_resolve(doc):
    text = open(osp.join(ROOT, doc)).read()
    base = osp.dirname(osp.join(ROOT, doc))
    for target in re.findall(r'\]\(([^)\s]+)\)', text):
        if target.startswith(('http://', 'https://', '#')):
            continue
        path = target.split('#')[0]
        assert osp.exists(osp.join(base, path)), (doc, target)
