from .host_det_data_preprocessor import HostDetDataPreprocessor

__all__ = ['HostDetDataPreprocessor']
