"""Run the protocol over reader presets and proficiencies (a study); see
mmmulti/protocol/study.py.

    python tools/run_study.py --scale study
    python tools/run_study.py --scale quick --presets vindr_like mixed --proficiencies 0.6 0.8
"""
from mmmulti.protocol.study import main

if __name__ == '__main__':
    main()
