"""Registries of the ``mmmulti`` scope.

Each is a child of mmdet's registry of the same kind, so with
``default_scope='mmmulti'`` a config builds mmmulti components first and falls
back to mmdet's (and, through mmdet, mmengine's). Components register when
first looked up: each registry's ``locations`` name the mmmulti modules and,
because a child registry never triggers its parent's lazy imports, mmdet's
own. Importing ``mmmulti`` itself registers nothing.

``FUSION_METHODS`` is new: it holds the truth-inference aggregators (WBF,
majority vote, ...), which are pure numpy; it lives in
:mod:`mmmulti.fusion.registry` and is re-exported here.
"""
from mmdet.registry import DATA_SAMPLERS as MMDET_DATA_SAMPLERS
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmdet.registry import EVALUATOR as MMDET_EVALUATOR
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import LOG_PROCESSORS as MMDET_LOG_PROCESSORS
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMDET_OPTIM_WRAPPER_CONSTRUCTORS
from mmdet.registry import RUNNER_CONSTRUCTORS as MMDET_RUNNER_CONSTRUCTORS
from mmdet.registry import RUNNERS as MMDET_RUNNERS
from mmdet.registry import WEIGHT_INITIALIZERS as MMDET_WEIGHT_INITIALIZERS
from mmdet.registry import LOOPS as MMDET_LOOPS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import MODEL_WRAPPERS as MMDET_MODEL_WRAPPERS
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import OPTIM_WRAPPERS as MMDET_OPTIM_WRAPPERS
from mmdet.registry import OPTIMIZERS as MMDET_OPTIMIZERS
from mmdet.registry import PARAM_SCHEDULERS as MMDET_PARAM_SCHEDULERS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmdet.registry import VISBACKENDS as MMDET_VISBACKENDS
from mmdet.registry import VISUALIZERS as MMDET_VISUALIZERS
from mmengine.registry import Registry

SCOPE = 'mmmulti'

RUNNERS = Registry('runner', parent=MMDET_RUNNERS, scope=SCOPE,
                   locations=['mmmulti.engine', 'mmdet.engine.runner'])
RUNNER_CONSTRUCTORS = Registry('runner constructor', parent=MMDET_RUNNER_CONSTRUCTORS,
                               scope=SCOPE, locations=['mmmulti.engine', 'mmdet.engine.runner'])
WEIGHT_INITIALIZERS = Registry('weight initializer', parent=MMDET_WEIGHT_INITIALIZERS,
                               scope=SCOPE, locations=['mmmulti.models', 'mmdet.models'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor',
                                      parent=MMDET_OPTIM_WRAPPER_CONSTRUCTORS, scope=SCOPE,
                                      locations=['mmmulti.engine', 'mmdet.engine.optimizers'])
LOG_PROCESSORS = Registry('log_processor', parent=MMDET_LOG_PROCESSORS, scope=SCOPE,
                          locations=['mmmulti.engine', 'mmdet.engine'])

DATASETS = Registry('dataset', parent=MMDET_DATASETS, scope=SCOPE,
                    locations=['mmmulti.datasets', 'mmdet.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMDET_DATA_SAMPLERS, scope=SCOPE,
                         locations=['mmmulti.datasets', 'mmdet.datasets.samplers'])
TRANSFORMS = Registry('transform', parent=MMDET_TRANSFORMS, scope=SCOPE,
                      locations=['mmmulti.datasets.transforms', 'mmdet.datasets.transforms'])
MODELS = Registry('model', parent=MMDET_MODELS, scope=SCOPE,
                  locations=['mmmulti.models', 'mmdet.models'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMDET_MODEL_WRAPPERS, scope=SCOPE,
                          locations=['mmmulti.models', 'mmdet.models'])
TASK_UTILS = Registry('task util', parent=MMDET_TASK_UTILS, scope=SCOPE,
                      locations=['mmmulti.models', 'mmdet.models'])
HOOKS = Registry('hook', parent=MMDET_HOOKS, scope=SCOPE,
                 locations=['mmmulti.engine', 'mmdet.engine.hooks'])
LOOPS = Registry('loop', parent=MMDET_LOOPS, scope=SCOPE,
                 locations=['mmmulti.engine', 'mmdet.engine.runner'])
OPTIMIZERS = Registry('optimizer', parent=MMDET_OPTIMIZERS, scope=SCOPE,
                      locations=['mmmulti.engine', 'mmdet.engine.optimizers'])
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMDET_OPTIM_WRAPPERS, scope=SCOPE,
                          locations=['mmmulti.engine', 'mmdet.engine.optimizers'])
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMDET_PARAM_SCHEDULERS,
                            scope=SCOPE, locations=['mmmulti.engine', 'mmdet.engine.schedulers'])
METRICS = Registry('metric', parent=MMDET_METRICS, scope=SCOPE,
                   locations=['mmmulti.evaluation', 'mmdet.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMDET_EVALUATOR, scope=SCOPE,
                     locations=['mmmulti.evaluation', 'mmdet.evaluation'])
VISBACKENDS = Registry('vis_backend', parent=MMDET_VISBACKENDS, scope=SCOPE,
                       locations=['mmmulti.visualization', 'mmdet.visualization'])
VISUALIZERS = Registry('visualizer', parent=MMDET_VISUALIZERS, scope=SCOPE,
                       locations=['mmmulti.visualization', 'mmdet.visualization'])

# Truth inference: readers' boxes -> fused boxes with agreement confidences. Defined
# with the numpy-only fusion package, so that fusion never loads torch or mmdet.
from mmmulti.fusion.registry import FUSION_METHODS  # noqa: E402,F401
