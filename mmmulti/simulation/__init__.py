"""MED-MNIST simulator: digits on a black canvas read by simulated readers."""
from .med_mnist import CLASSES, format_summary, make_med_mnist, parse_count_range
from .profiles import PRESETS, ReaderProfile, preset_profiles
from .readers import jitter_box, sample_transition_matrix

__all__ = ['CLASSES', 'make_med_mnist', 'format_summary', 'parse_count_range',
           'jitter_box', 'sample_transition_matrix', 'ReaderProfile', 'PRESETS',
           'preset_profiles']
