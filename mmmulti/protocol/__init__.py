"""The paper's protocol: arms x seeds, trained and scored the same way."""
from .arms import Arm, expand_arms, make_arms  # noqa: F401
from .report import markdown_table, write_reports  # noqa: F401
from .runner import ProtocolRunner, ProtocolSettings, run_protocol  # noqa: F401
