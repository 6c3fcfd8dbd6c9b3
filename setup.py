"""mmmulti: multi-reader object detection (truth inference + EARL) on MMDetection."""
import os
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py


class BuildPyWithConfigs(build_py):
    """Ship ``configs/`` inside the built package as ``mmmulti/.mim/configs`` (mmdet's
    layout), so that a plain ``pip install .`` can run the shipped configs and the
    protocol from any directory. Editable installs read ``configs/`` in the checkout."""

    def run(self) -> None:
        super().run()
        if getattr(self, 'editable_mode', False) or not os.path.isdir('configs'):
            return
        dst = os.path.join(self.build_lib, 'mmmulti', '.mim', 'configs')
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree('configs', dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


def version() -> str:
    ns: dict = {}
    with open('mmmulti/version.py') as f:
        exec(f.read(), ns)
    return ns['__version__']


setup(
    name='mmmulti',
    version=version(),
    description='Object detection from several expert readers: truth inference and '
    'Experts Agreement Re-weighted Loss (EARL) on MMDetection',
    long_description=open('README.md').read() if __import__('os').path.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmmulti', 'mmmulti.*']),
    cmdclass={'build_py': BuildPyWithConfigs},
    entry_points={'console_scripts': [
        'mmmulti-train = mmmulti.cli.train:main',
        'mmmulti-test = mmmulti.cli.test:main',
        'mmmulti-protocol = mmmulti.protocol.cli:main',
        'mmmulti-study = mmmulti.protocol.study:main',
    ]},
    license='Apache-2.0',
    python_requires='>=3.9',
    install_requires=[
        # torch and setuptools<70 are installed first by tools/install.sh: torch's own
        # metadata asks for setuptools>=77 while mmcv's build and mmengine's `mmdet::`
        # config resolution need pkg_resources (setuptools<70). Listing either here
        # makes pip backtrack to another torch (a multi-GB CUDA build).
        'mmengine==0.10.7',
        'mmcv==2.1.0',
        'mmdet==3.3.0',
        'ensemble-boxes>=1.0.9',
        'pycocotools>=2.0.7',
        'numpy',
        'tensorboard',
        'pydicom',
        # pydicom alone cannot decode JPEG extended (12-bit), JPEG-LS or JPEG 2000
        # DICOMs, which real radiograph archives contain
        'pylibjpeg',
        'pylibjpeg-libjpeg',
        'pylibjpeg-openjpeg',
        'pylibjpeg-rle',
        'scikit-learn',
        'matplotlib',
        'tqdm',
    ],
    extras_require={'tests': ['pytest', 'pytest-timeout']},
)
