package train

// The fused engine multiplies large batches with blas64.Gemm; importing internal/linalg switches
// blas64 to OpenBLAS when the project is built with the tag `openblas`.
import _ "github.com/sgdstability/sgdstab/internal/linalg"
