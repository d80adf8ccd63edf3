package train

import (
	"errors"

	"github.com/sgdstability/sgdstab/data"
)

// Curvature is the per-sample curvature of the loss at a point w (normally a minimum).
type Curvature struct {
	N, K, D int // samples, outputs, parameters
	// Jacobians[i] is J_i = df(x_i)/dw, K x D row-major, columns in the flat parameter order.
	Jacobians [][]float64
	// OutputHessian is M = d^2 l_i / df^2 = 2c I (K x K row-major; 2 I for the "sum" loss).
	OutputHessian []float64
	// Gradients[i] is g_i = grad l_i(w) = J_i^T M (f(x_i) - y_i) / 1 ... (length D).
	Gradients [][]float64
	// ResidualRel is ||H - H_GN||_2 / ||H_GN||_2 (spectral norms) for the full-batch Hessian H and
	// its Gauss-Newton part H_GN = (1/n) sum_i J_i^T M J_i.
	ResidualRel float64
}

// PerSampleCurvature computes the per-sample curvature at p.
func PerSampleCurvature(ds *data.Dataset, p Params, loss string) (*Curvature, error) {
	return nil, errors.New("train: PerSampleCurvature: not written yet")
}

// HessianSharpness is lambda_max of the exact full-batch Hessian at p.
func HessianSharpness(ds *data.Dataset, p Params, loss string) (float64, error) {
	return 0, errors.New("train: HessianSharpness: not written yet")
}
