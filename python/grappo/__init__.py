"""grappo: optimize TensorFlow inference graphs (kernel fusion, layer folding, quantization,
chosen by measurement), from Python. ctypes bindings over libgrappo.so, grappo's C API.

    import grappo
    m = grappo.load("model.pb")
    r = grappo.optimize(m, search="grappler")
    r.save("model.opt.pb"); print(r)
"""

from ._lib import GrappoError, lib
from ._tensor import TensorInfo
from .model import Model, load
from .optimize import Result, optimize

__version__: str = lib.grappo_libversion().decode()

__all__ = ["GrappoError", "Model", "Result", "TensorInfo", "load", "optimize", "__version__"]
