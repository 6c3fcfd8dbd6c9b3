"""Runner used by ``tools/test.py``: a checkpoint must fit the config's model."""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

from mmengine.runner import Runner

from mmmulti.registry import RUNNERS


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's weights do not fit the model built from the config."""

    user_error = True  # a wrong file, not a bug: one error line (mmmulti.utils.cli_errors)


@RUNNERS.register_module()
class StrictLoadRunner(Runner):
    """``Runner`` whose checkpoint loading is strict.

    mmengine loads ``load_from`` with ``strict=False``: a checkpoint of another
    head (other number of classes, another model) only logs a warning, the
    mismatched layers keep their random initialisation, and the test scores
    random weights. Evaluating a checkpoint needs every weight to fit, so a
    missing, unexpected or differently shaped key is an error naming the file
    and the keys. Training keeps mmengine's lenient loading (fine-tuning from
    a checkpoint with another head is legitimate there). ``strict`` defaults to
    True here; mmengine's ``load_or_resume`` does not pass it.
    """

    def load_checkpoint(self, filename: str, map_location: Any = 'cpu',
                        strict: bool = True,
                        revise_keys: Optional[Sequence[Tuple[str, str]]] = None) -> Any:
        revise: List[Tuple[str, str]] = list(revise_keys or [(r'^module.', '')])
        try:
            return super().load_checkpoint(filename, map_location=map_location,
                                           strict=strict, revise_keys=revise)
        except RuntimeError as exc:
            msg = str(exc)
            if 'do not match' not in msg:
                raise
            details = '\n'.join(line for line in msg.splitlines()[1:] if line.strip())
            raise CheckpointMismatchError(
                f'checkpoint {filename} does not fit the model of the config '
                f'(scoring it would evaluate randomly initialised layers):\n{details}\n'
                'Use the config the checkpoint was trained with (e.g. the same '
                'num_classes), or the checkpoint trained with this config.') from None
