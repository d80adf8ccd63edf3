//go:build openblas

package linalg

/*
#cgo pkg-config: openblas lapacke
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <lapacke.h>

char *openblas_get_corename(void);

// sgdstab_select_core re-runs OpenBLAS's kernel selection with OPENBLAS_CORETYPE = core, through
// the entry points of a DYNAMIC_ARCH build (Debian's). It returns 0 if the library has none.
static int sgdstab_select_core(const char *core) {
	void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
	void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
	if (quit == NULL || init == NULL) {
		return 0;
	}
	setenv("OPENBLAS_CORETYPE", core, 1);
	quit();
	init();
	unsetenv("OPENBLAS_CORETYPE");
	return 1;
}
*/
import "C"

import (
	"os"
	"unsafe"

	"golang.org/x/sys/cpu"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
)

// kernel is the OpenBLAS kernel set in use, and detected the one OpenBLAS chose by itself.
var kernel, detected string

// backend names the backend with its kernel set, e.g. "openblas/SkylakeX".
func backend() string { return "openblas/" + kernel }

func init() {
	blas64.Use(netlib.Implementation{})
	blas32.Use(netlib.Implementation{})
	detected = C.GoString(C.openblas_get_corename())
	kernel = detected
	if want := betterCore(detected, os.Getenv("OPENBLAS_CORETYPE")); want != "" {
		cs := C.CString(want)
		defer C.free(unsafe.Pointer(cs))
		if C.sgdstab_select_core(cs) != 0 {
			kernel = C.GoString(C.openblas_get_corename())
		}
	}
}

// betterCore returns the kernel set to use instead of the detected one, or "" to keep it.
//
// OpenBLAS (Debian 12 ships 0.3.21) falls back to its generic "Prescott" (SSE3) kernels on a
// processor model it does not know, such as the Xeon model 207 (Emerald Rapids) of the machines
// here: a 2048 x 2048 product then runs at 18-22 GFLOP/s instead of 110-116 GFLOP/s with the
// SkylakeX (AVX-512) kernels. So when the fallback was taken and the processor (and the
// operating system) supports a wider instruction set, the best kernel set for it is chosen.
// An explicit OPENBLAS_CORETYPE is always respected.
func betterCore(detected, forced string) string {
	if forced != "" || detected != "Prescott" {
		return ""
	}
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512CD:
		return "SkylakeX"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return "Haswell"
	case cpu.X86.HasAVX:
		return "Sandybridge"
	}
	return ""
}

// eigSym calls LAPACKE_dsyevd in column-major order. A symmetric matrix is its own transpose, so
// the row-major upper triangle is the column-major lower triangle, and the column-major
// eigenvector columns are the rows of the row-major result.
func eigSym(n int, a, w []float64, vectors bool) bool {
	jobz := C.char('N')
	if vectors {
		jobz = 'V'
	}
	info := C.LAPACKE_dsyevd(C.LAPACK_COL_MAJOR, jobz, C.char('L'), C.lapack_int(n),
		(*C.double)(&a[0]), C.lapack_int(n), (*C.double)(&w[0]))
	return info == 0
}

// cholesky calls LAPACKE_dpotrf in column-major order on the upper triangle, which is the
// row-major lower triangle.
func cholesky(n int, a []float64) bool {
	return C.LAPACKE_dpotrf(C.LAPACK_COL_MAJOR, C.char('U'), C.lapack_int(n), (*C.double)(&a[0]), C.lapack_int(n)) == 0
}

// nativeLevel3 makes SyrkTrans and TrmmRightUpper call the backend's own Syrk and Trmm:
// OpenBLAS's Syrk and Trmm are blocked and run on all cores.
const nativeLevel3 = true
