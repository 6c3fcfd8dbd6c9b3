r"""Generate MED-MNIST, the simulated multi-reader detection set.

Example::

    python tools/dataset_converters/make_med_mnist.py --out data/med_mnist \
        --num-train 5000 --num-val 1000 --num-test 1000 --img-size 640 \
        --readers 3 --proficiency 0.8 --seed 0
    # readers who disagree like VinDr-CXR's radiologists (misses, false positives)
    python tools/dataset_converters/make_med_mnist.py --out data/med_mnist_vindr_like \
        --img-size 128 --preset vindr_like
"""
import argparse
import sys

from mmmulti.simulation.med_mnist import format_summary, make_med_mnist
from mmmulti.simulation.profiles import PRESETS
from mmmulti.utils.cli_errors import add_debug_flag, cli_entry
from mmmulti.utils.output_guard import check_output_dir


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                     argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' layout and shows defaults."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    p.add_argument('--out', required=True, help='output folder (images/, annotations/)')
    p.add_argument('--num-train', type=int, default=5000, help='training images')
    p.add_argument('--num-val', type=int, default=1000, help='validation images')
    p.add_argument('--num-test', type=int, default=1000, help='test images')
    p.add_argument('--img-size', type=int, default=640, help='square image side (px)')
    p.add_argument('--readers', type=int, default=3, help='number of simulated readers R')
    p.add_argument('--proficiency', type=float, default=0.8,
                   help='reader proficiency p: mean of the transition-matrix diagonal '
                   'and the minimum IoU of a reader box with its true box')
    p.add_argument('--preset', default='paper', choices=sorted(PRESETS),
                   help="readers' profiles: paper (class confusion and box jitter only), "
                   'vindr_like (frequent misses and false positives), mixed (one expert, '
                   'two weak readers, one biased); see mmmulti/simulation/profiles.py')
    p.add_argument('--digits-per-image', default='1-4', help='N or MIN-MAX digits per image')
    p.add_argument('--min-digit-size', type=int, default=None,
                   help='smallest pasted digit side in px (default img_size/12)')
    p.add_argument('--max-digit-size', type=int, default=None,
                   help='largest pasted digit side in px (default img_size/4)')
    p.add_argument('--seed', type=int, default=0, help='random seed (same seed, same files)')
    p.add_argument('--mnist-dir', default=None,
                   help='folder with MNIST train-images-idx3-ubyte[.gz] and '
                   'train-labels-idx1-ubyte[.gz]; default: scikit-learn 8x8 digits')
    p.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    add_debug_flag(p)
    return p.parse_args(argv)


@cli_entry
def main(argv=None) -> int:
    a = parse_args(argv)
    # make_med_mnist checks the counts, sizes, readers and proficiency before any work
    check_output_dir(a.out, (), input_dirs=[a.mnist_dir], flag='another --out')
    paths = make_med_mnist(
        a.out, num_train=a.num_train, num_val=a.num_val, num_test=a.num_test,
        img_size=a.img_size, num_readers=a.readers, proficiency=a.proficiency,
        digits_per_image=a.digits_per_image, min_digit_size=a.min_digit_size,
        max_digit_size=a.max_digit_size, seed=a.seed, mnist_dir=a.mnist_dir,
        progress=not a.no_progress, preset=a.preset)
    print(format_summary(paths))
    return 0


if __name__ == '__main__':
    sys.exit(main())
