"""Model-side building blocks shared by the detectors."""
from .ema import BatchedExpMomentumEMA

__all__ = ['BatchedExpMomentumEMA']
