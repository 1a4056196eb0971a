"""Helper package of the course on backpropagation through time.

Each public function's docstring names the chapter of the book that explains
it, and its symbols are those of the book's notation page.
"""

from bptt.gradcheck import TOL_AUTOGRAD, TOL_NUMERIC, numerical_gradient, rel_error
from bptt.rnn import (
    LINEAR_PARAMS,
    TANH_PARAMS,
    LinearRNNCache,
    LinearStepCache,
    TanhRNNCache,
    TanhStepCache,
    linear_rnn_backward,
    linear_rnn_forward,
    linear_step_backward,
    linear_step_forward,
    softmax,
    softmax_cross_entropy,
    squared_loss,
    tanh_rnn_forward,
    tanh_step_forward,
)
from bptt.spectral import spectral_radius, with_spectral_radius
from bptt.tasks import LinearProblem, TanhProblem, linear_problem, tanh_problem

__all__ = [
    "LINEAR_PARAMS", "TANH_PARAMS", "TOL_AUTOGRAD", "TOL_NUMERIC",
    "LinearProblem", "LinearRNNCache", "LinearStepCache", "TanhProblem", "TanhRNNCache",
    "TanhStepCache", "linear_problem", "linear_rnn_backward", "linear_rnn_forward",
    "linear_step_backward", "linear_step_forward", "numerical_gradient", "rel_error",
    "softmax", "softmax_cross_entropy", "spectral_radius", "squared_loss", "tanh_problem",
    "tanh_rnn_forward", "tanh_step_forward", "with_spectral_radius",
]
